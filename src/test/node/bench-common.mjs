// Helpers shared by the transformers.js bench scripts (bench-transformersjs-generate.mjs,
// bench-transformersjs-florence2.mjs); transformers.js itself is not modified.

/** The process's CPU time (user + system, all threads) in ms. */
export const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

/** A streamer recording the wall and CPU time of every put() (the prompt's, then each new token's). */
export class Clock {
  constructor() { this.t = []; this.cpu = []; }
  put() { this.t.push(performance.now()); this.cpu.push(cpuMs()); }
  end() {}
}

/** Wraps every session's run() of this model instance; returns the array of [session name, start, end]. */
export function timeSessionRuns(model) {
  const runs = [];
  for (const [sessionName, session] of Object.entries(model.sessions)) {
    const run = session.run.bind(session);
    session.run = async (...a) => {
      const t = performance.now();
      const out = await run(...a);
      runs.push([sessionName, t, performance.now()]);
      return out;
    };
  }
  return runs;
}

/** The upper median. */
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A tensor's values as numbers. */
export const ids = (t) => Array.from(t.data, Number);

/** Points transformers.js at the local folder `modelDir` (no downloads); returns the name to load. */
export function useLocalFolder(env, path, modelDir) {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = path.dirname(modelDir) + path.sep;
  return path.basename(modelDir);
}

/** from_pretrained session options: fp32 sessions with `threads` intra-op threads, no spinning if `noSpin`. */
export const sessionOptions = (threads, noSpin) => ({
  intraOpNumThreads: threads, interOpNumThreads: 1,
  ...(noSpin ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
});
