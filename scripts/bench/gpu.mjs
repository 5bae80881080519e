// 9. GPU: the CUDA provider's images/s, when the task has a GPU machine. Not in this task (and
// never in CI): recorded as not measured.
export const name = 'gpu';
export const title = 'GPU (CUDA provider)';

export async function run() {
  return { measured: false, note: 'GPU: not measured (no device in this task)' };
}
