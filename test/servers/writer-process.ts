import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./couch-writer.ts', import.meta.url));

export interface RunningWriter {
  /** Changes made so far. */
  readonly ops: number;
  /** Resolves once the writer has made `n` changes (fails if it ends first). */
  until(n: number): Promise<void>;
  /** SIGTERM; resolves with the changes it made in all, once it has exited. */
  stop(): Promise<number>;
}

/** Starts test/servers/couch-writer.ts on these databases (`url` with the admin's credentials). */
export function startCouchWriter(url: string, dbs: string[], env: NodeJS.ProcessEnv = {}): RunningWriter {
  return startWriter(['--import', 'tsx', script, url, ...dbs], env);
}

/** Starts a writer process (Node with these arguments) that prints `ops N` after each change and `stopped N` on SIGTERM. */
export function startWriter(args: string[], env: NodeJS.ProcessEnv = {}): RunningWriter {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let ops = 0;
  let stderr = '';
  let buffered = '';
  const waiting = new Set<{ n: number; resolve: () => void }>();
  child.stdout.on('data', (bytes: Buffer) => {
    buffered += bytes.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      const count = /^(?:ops|stopped) (\d+)$/.exec(line);
      if (count) ops = Number(count[1]);
    }
    for (const w of waiting) if (ops >= w.n) w.resolve();
  });
  child.stderr.on('data', (bytes: Buffer) => (stderr += bytes.toString()));
  // 'close', not 'exit': its last line is read by then.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    get ops() {
      return ops;
    },
    until(n) {
      if (ops >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const entry = { n, resolve: () => (waiting.delete(entry), resolve()) };
        waiting.add(entry);
        void exited.then((code) => {
          if (waiting.delete(entry)) reject(new Error(`the writer ended (exit ${code}) after ${ops} changes, before ${n}: ${stderr}`));
        });
      });
    },
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      if (code !== 0) throw new Error(`the writer exited ${code}: ${stderr}`);
      return ops;
    },
  };
}

const firestoreScript = fileURLToPath(new URL('./firestore-writer.ts', import.meta.url));

/** Starts test/servers/firestore-writer.ts on these collections (the emulator and project in `env`). */
export function startFirestoreWriter(collections: string[], env: NodeJS.ProcessEnv): RunningWriter {
  return startWriter(['--import', 'tsx', firestoreScript, ...collections], env);
}

const dynamoScript = fileURLToPath(new URL('../dynamodb-writer.mjs', import.meta.url));

/** Starts test/dynamodb-writer.mjs on one table (WRITER_ENDPOINT and the rest in `env`). */
export function startDynamoWriter(env: NodeJS.ProcessEnv): RunningWriter {
  return startWriter([dynamoScript], env);
}
