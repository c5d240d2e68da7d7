// BullMQ's queue-management surface on one Redis server: bulk adds, pause/resume, progress and
// logs, priority and delay changes, promotion, deduplication, removal, retrying failed jobs,
// cleaning, global concurrency and reading worker metrics. Each step's observable result goes into the
// returned outcome; ids are replaced by job names, so two servers' outcomes compare equal.
import { Queue, Worker } from 'bullmq';

const TIMEOUT_MS = 30_000;

async function waitFor(what, probe) {
  const deadline = Date.now() + TIMEOUT_MS;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const names = (jobs) => jobs.map((j) => j.name);

// Steps with no worker running: only the queue's own scripts touch the data.
async function manage(queue, out) {
  const bulk = await queue.addBulk(['b1', 'b2', 'b3'].map((name) => ({ name, data: { name } })));
  await queue.pause();
  out.paused = await queue.isPaused();
  await queue.add('while-paused', {});
  out.countsPaused = await queue.getJobCounts('wait', 'paused');
  await queue.resume();
  out.resumed = !(await queue.isPaused());
  out.waiting = names(await queue.getWaiting(0, -1));

  await bulk[0].updateProgress(42);
  await bulk[0].log('first line');
  await queue.addJobLog(bulk[0].id, 'second line');
  const b1 = await queue.getJob(bulk[0].id);
  out.progress = b1.progress;
  out.logs = await queue.getJobLogs(bulk[0].id);

  const low = await queue.add('low', {}, { priority: 5 });
  await low.changePriority({ priority: 1 });
  out.lowState = await low.getState();
  const later = await queue.add('later', {}, { delay: 60_000 });
  out.laterState = await later.getState();
  await later.changeDelay(120_000);
  await later.promote();
  out.promotedState = await later.getState();

  const d1 = await queue.add('dedup', { n: 1 }, { deduplication: { id: 'same' } });
  const d2 = await queue.add('dedup', { n: 2 }, { deduplication: { id: 'same' } });
  out.deduplicated = d1.id === d2.id;
  out.dedupData = (await queue.getJob(d2.id)).data;

  await bulk[2].remove();
  out.removed = (await queue.getJob(bulk[2].id)) ?? 'gone';
  out.countsBefore = await queue.getJobCounts('wait', 'prioritized', 'delayed');
}

/** Runs the operations on `server` in queues named after `tag`; returns the outcome. */
export async function operations(server, tag) {
  const connection = { host: server.host, port: server.port, maxRetriesPerRequest: null };
  const queue = new Queue(`ops-${tag}`, { connection });
  const out = {};
  await manage(queue, out);
  await queue.setGlobalConcurrency(1);
  out.globalConcurrency = await queue.getGlobalConcurrency();

  const failOnce = await queue.add('fail-once', {});
  let failures = 0;
  const worker = new Worker(queue.name, async (job) => {
    if (job.name === 'fail-once' && failures === 0) {
      failures += 1;
      throw new Error('first run fails');
    }
    return job.name;
  }, { connection, metrics: { maxDataPoints: 60 } });
  await waitFor('first pass', async () => {
    const c = await queue.getJobCounts('completed', 'failed', 'wait', 'prioritized');
    return c.failed === 1 && c.wait === 0 && c.prioritized === 0;
  });
  out.failedNames = names(await queue.getFailed());
  await queue.retryJobs({ state: 'failed' });
  await waitFor('retried job', async () => (await queue.getJobState(failOnce.id)) === 'completed');
  out.retriedResult = (await queue.getJob(failOnce.id)).returnvalue;
  // Metrics are kept per minute: only that the read works is comparable, not the count.
  out.metricsRead = typeof (await queue.getMetrics('completed')).count === 'number';
  await worker.close();

  out.completedSorted = names(await queue.getCompleted()).sort();
  out.cleaned = (await queue.clean(0, 100, 'completed')).length;
  out.countsAfter = await queue.getJobCounts('completed', 'failed', 'wait', 'delayed');
  await queue.obliterate({ force: true });
  await queue.close();
  return out;
}
