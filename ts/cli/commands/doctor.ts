/**
 * `memery doctor [--repair] [--json]`: checks the home (permissions, disk space, catalog integrity,
 * stored vectors, orphan embeddings, FAISS cache files) and with --repair fixes what it can.
 * Exit 0 when healthy (after repairs), 1 when problems remain.
 */
import { paint, resolveHome, useColor, writeOut, type GlobalOptions } from '../context.js';
import { ExitError } from '../errors.js';

export interface DoctorCommandOptions {
  repair?: boolean;
  json?: boolean;
}

export async function runDoctor(opts: DoctorCommandOptions, g: GlobalOptions): Promise<void> {
  const home = await resolveHome(g);
  const { doctor } = await import('../../catalog/doctor.js');
  const report = await doctor(home, { repair: opts.repair === true });
  if (opts.json) {
    await writeOut(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const c = useColor(process.stdout);
    const mark = { ok: paint(c, '32', 'ok      '), problem: paint(c, '31', 'PROBLEM '), repaired: paint(c, '33', 'repaired') } as const;
    const lines = [`memery doctor: ${home}`];
    for (const ch of report.checks) {
      lines.push(`${mark[ch.status]}  ${ch.name.padEnd(11)} ${ch.summary}`);
      for (const d of ch.details.slice(0, 20)) lines.push(`            ${d}`);
      if (ch.details.length > 20) lines.push(`            … and ${ch.details.length - 20} more (--json lists all)`);
    }
    lines.push(
      report.healthy
        ? opts.repair && report.checks.some((ch) => ch.status === 'repaired')
          ? 'Repaired; no problems remain.'
          : 'No problems found.'
        : opts.repair
          ? 'Problems remain (see above).'
          : 'Problems found: `memery doctor --repair` fixes what it can.',
    );
    await writeOut(`${lines.join('\n')}\n`);
  }
  if (!report.healthy) throw new ExitError(1);
}
