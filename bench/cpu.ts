/**
 * CPU seconds a browser has used (all its processes), from /proc: on a shared machine the wall-clock ratio moves
 * with everyone else's load, while CPU seconds show what the work itself costs. Linux only; null elsewhere.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

/** The process whose command line holds `marker` (a flag passed to the browser only), with its descendants. */
export function browserCpuSeconds(marker: string): number | null {
  if (!existsSync('/proc/self/stat')) return null;
  const parent = new Map<number, number>();
  const cpu = new Map<number, number>();
  let root = -1;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the command name, which may hold spaces: state, ppid, … utime (14th) and stime (15th).
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const pid = Number(name);
      parent.set(pid, Number(f[1]));
      cpu.set(pid, (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND);
      if (root < 0) {
        const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
        if (cmd.includes(marker) && !cmd.includes('--type=')) root = pid;
      }
    } catch {
      // The process ended while it was being read.
    }
  }
  if (root < 0) return null;
  const inTree = (pid: number) => {
    for (let p = pid; p > 1; p = parent.get(p) ?? 0) if (p === root) return true;
    return false;
  };
  return [...cpu].reduce((sum, [pid, s]) => sum + (inTree(pid) ? s : 0), 0);
}
