// Kills a soak's or chaos run's child processes if the runner dies without doing it itself (SIGKILL, a crashed test
// worker). The runner tells it each child's pid over IPC; when the IPC channel closes, every pid still
// watched is killed, but only if /proc still shows the same command line, so a reused pid is left alone.
import { readFileSync } from 'node:fs';

const watched = new Map();
const commandLine = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return null;
  }
};

process.on('message', (message) => {
  if (message?.type === 'watch') watched.set(message.pid, commandLine(message.pid));
  else if (message?.type === 'forget') watched.delete(message.pid);
});

// A Ctrl-C reaches the whole process group; the runner handles it, and this process outlives it.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});

process.on('disconnect', () => {
  for (const [pid, seen] of watched) {
    const now = commandLine(pid);
    if (seen !== null && now !== seen) continue;
    try {
      process.kill(pid, 'SIGCONT');
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  process.exit(0);
});
