export function crc32(buf: Uint8Array): number;
