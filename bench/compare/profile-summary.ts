/**
 * Where a V8 CPU profile (`npm run bench -- --profile`) spent its time: self time per function
 * per package / source folder, native time by the package that called it, and per innermost project function on the stack (which of our
 * functions caused the library and native time); the top entries of each.
 *
 *   node --import @swc-node/register/esm-register bench/compare/profile-summary.ts <file.cpuprofile> [top]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: profile-summary.ts <file.cpuprofile> [top]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

/** node_modules/<package>, or the repository folder (src/gateway, libs/protocol), or a builtin. */
function area(url: string): string {
  if (!url) return '(V8 / native)';
  const pkg = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return url;
  const own = /\/(src|libs|bench)\/([^/]+)/.exec(url);
  return own ? `${own[1]}/${own[2]}` : url;
}

const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

function label(id: number): string {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  const where = url ? `${url.replace(/^.*?\/(node_modules|src|libs|bench)\//, '$1/')}:${lineNumber + 1}` : '';
  return `${functionName || '(anonymous)'} ${where}`.trim();
}

/** The innermost project function (src/, libs/) on the sample's stack: who asked for the work. */
function projectCaller(id: number): string | undefined {
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at))
    if (/\/(src|libs)\//.test(byId.get(at)!.callFrame.url)) return label(at);
  return undefined;
}

/** Native time (syscalls, C++ builtins) by the innermost package or project folder that called it. */
function nativeCaller(id: number): string {
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const { url } = byId.get(at)!.callFrame;
    if (url && !url.startsWith('node:')) return area(url);
  }
  return '(Node.js itself)';
}

const callers = new Map<string, number>();
const nativeBy = new Map<string, number>();
const functions = new Map<string, number>();
const areas = new Map<string, number>();
for (const [id, us] of selfUs) {
  const { url } = byId.get(id)!.callFrame;
  const fn = label(id);
  functions.set(fn, (functions.get(fn) ?? 0) + us);
  areas.set(area(url), (areas.get(area(url)) ?? 0) + us);
  if (!url && !fn.startsWith('(')) nativeBy.set(nativeCaller(id), (nativeBy.get(nativeCaller(id)) ?? 0) + us);
  const caller = projectCaller(id) ?? (fn === '(idle)' ? '(idle)' : '(no project function on the stack)');
  callers.set(caller, (callers.get(caller) ?? 0) + us);
}
const show = (title: string, map: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${((100 * us) / total).toFixed(1).padStart(5)} %  ${name}`);
};
console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled`);
show('Self time by package / folder', areas);
show('Self time by function', functions);
show('Native functions (syscalls, C++ builtins) by the package or folder that called them', nativeBy);
show('Time by innermost project function on the stack (its own time plus the libraries it called)', callers);
