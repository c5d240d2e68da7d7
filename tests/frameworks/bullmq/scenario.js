// One BullMQ scenario against one Redis server ({ host, port }), returning what a user of the
// queue can observe: each job's result, the order prioritized jobs ran in, the failed job and
// its attempts, the completed/failed events QueueEvents saw, the job counts, and a rate-limited
// worker's throughput. Everything returned is deterministic on a correct server (times are
// reduced to booleans or lower bounds), so outcomes of two servers can be compared with
// deepEqual.
import { FlowProducer, Queue, QueueEvents, Worker } from 'bullmq';
import { Cluster, Redis } from 'ioredis';

const TIMEOUT_MS = 30_000;

function waitFor(what, probe) {
  const deadline = Date.now() + TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const tick = async () => {
      if (await probe()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 50);
    };
    tick();
  });
}

// The processor: what each job name does. `flaky` fails twice, then succeeds (retries with a
// fixed backoff); `doomed` fails on both of its attempts; `parent` sums its children's values.
async function process(job, prioOrder) {
  switch (job.name) {
    case 'add':
      return job.data.a + job.data.b;
    case 'delayed':
      return 'late';
    case 'flaky':
      if (job.attemptsMade < 2) throw new Error(`flaky attempt ${job.attemptsMade + 1}`);
      return `ok after ${job.attemptsMade} failures`;
    case 'doomed':
      throw new Error('always fails');
    case 'child':
      return job.data.n * 10;
    case 'parent': {
      const values = Object.values(await job.getChildrenValues());
      return { sum: values.reduce((a, b) => a + b, 0), children: values.length };
    }
    case 'tick':
      return 'tick';
    default:
      if (job.name.startsWith('prio-')) {
        prioOrder.push(job.name);
        return job.name.replace('prio-', 'p');
      }
      throw new Error(`unknown job ${job.name}`);
  }
}

async function addJobs(queue, flows, name) {
  const jobs = {};
  // Prioritized jobs added before the worker runs: it must take them by priority (1 first).
  jobs['prio-3'] = await queue.add('prio-3', {}, { priority: 3 });
  jobs['prio-1'] = await queue.add('prio-1', {}, { priority: 1 });
  jobs['prio-2'] = await queue.add('prio-2', {}, { priority: 2 });
  jobs['add-1'] = await queue.add('add', { a: 1, b: 2 });
  jobs['add-2'] = await queue.add('add', { a: 10, b: 20 });
  jobs.delayed = await queue.add('delayed', {}, { delay: 300 });
  jobs.flaky = await queue.add('flaky', {}, { attempts: 3, backoff: { type: 'fixed', delay: 100 } });
  jobs.doomed = await queue.add('doomed', {}, { attempts: 2, backoff: { type: 'exponential', delay: 50 } });
  const flow = await flows.add({
    name: 'parent',
    queueName: name,
    children: [1, 2, 3].map((n) => ({ name: 'child', queueName: name, data: { n } })),
  });
  jobs.parent = flow.job;
  // A job scheduler (the repeatable job of BullMQ 5+): three runs, 100 ms apart.
  await queue.upsertJobScheduler('ticker', { every: 100, limit: 3 }, { name: 'tick', data: {} });
  return jobs;
}

// Six jobs through a worker limited to 2 jobs per 400 ms: they need at least three windows.
async function rateLimited(base, name) {
  const queue = new Queue(name, { ...base });
  for (let i = 0; i < 6; i += 1) await queue.add('limited', { i });
  let completed = 0;
  const started = Date.now();
  const worker = new Worker(name, async () => 'done', {
    ...base, limiter: { max: 2, duration: 400 },
  });
  worker.on('completed', () => { completed += 1; });
  await waitFor('rate-limited jobs', async () => completed === 6);
  const elapsed = Date.now() - started;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return { completed, elapsedAtLeastTwoWindows: elapsed >= 750 };
}

// The server's own account of what went wrong: the error codes of INFO errorstats and, per
// command, whether any call was rejected or failed (counts vary with connection timing; kinds
// must not). Reset first so only this scenario is counted.
async function serverErrors(server, reset) {
  const client = new Redis({ host: server.host, port: server.port, lazyConnect: true });
  await client.connect();
  if (reset) {
    await client.config('RESETSTAT');
    client.disconnect();
    return null;
  }
  const codes = (await client.info('errorstats')).split('\r\n')
    .filter((l) => l.startsWith('errorstat_')).map((l) => l.split(':')[0]).sort();
  const refused = {};
  for (const line of (await client.info('commandstats')).split('\r\n')) {
    const m = /^cmdstat_([^:]+):.*rejected_calls=(\d+),failed_calls=(\d+)/.exec(line);
    if (!m || m[1] === 'config|resetstat') continue;
    const kinds = [Number(m[2]) > 0 && 'rejected', Number(m[3]) > 0 && 'failed'].filter(Boolean);
    if (kinds.length) refused[m[1]] = kinds;
  }
  client.disconnect();
  return { codes, refused };
}

// Queue options for `server`: a standalone { host, port }, or { cluster: [seed nodes] } for a
// cluster-mode-enabled group, where BullMQ wants its keys in one slot: a hash-tagged prefix.
function baseOptions(server) {
  if (!server.cluster) {
    return { connection: { host: server.host, port: server.port, maxRetriesPerRequest: null } };
  }
  const connection = new Cluster(server.cluster, { redisOptions: { maxRetriesPerRequest: null } });
  return { connection, prefix: '{bullmq}' };
}

/** Runs the scenario on `server` with queues named after `tag`; returns its outcome. */
export async function scenario(server, tag) {
  const base = baseOptions(server);
  const name = `jobs-${tag}`;
  if (!server.cluster) await serverErrors(server, true);
  const queue = new Queue(name, { ...base });
  const flows = new FlowProducer({ ...base });
  const events = new QueueEvents(name, { ...base });
  await events.waitUntilReady();
  const completedEvents = [];
  const failedEvents = [];
  events.on('completed', ({ jobId }) => completedEvents.push(jobId));
  events.on('failed', ({ jobId, failedReason }) => failedEvents.push({ jobId, failedReason }));

  const jobs = await addJobs(queue, flows, name);
  const prioOrder = [];
  const worker = new Worker(name, (job) => process(job, prioOrder), { ...base, concurrency: 1 });
  await waitFor('all jobs finished', async () => {
    const c = await queue.getJobCounts('completed', 'failed');
    return c.completed === 14 && c.failed === 1 && completedEvents.length === 14;
  });
  await worker.close();

  const results = {};
  for (const [key, job] of Object.entries(jobs)) {
    if (key === 'doomed') continue;
    results[key] = (await queue.getJob(job.id)).returnvalue;
  }
  const doomed = await queue.getJob(jobs.doomed.id);
  const delayed = await queue.getJob(jobs.delayed.id);
  const ticks = (await queue.getJobs(['completed'])).filter((j) => j.name === 'tick').length;
  const counts = await queue.getJobCounts('active', 'completed', 'delayed', 'failed', 'paused',
    'prioritized', 'waiting-children', 'wait');
  const outcome = {
    results,
    prioOrder,
    delayedWaitedMs: delayed.processedOn - delayed.timestamp,
    failed: [{ name: doomed.name, reason: doomed.failedReason, attemptsMade: doomed.attemptsMade }],
    failedEvents: failedEvents.map((e) => ({
      job: e.jobId === jobs.doomed.id ? 'doomed' : e.jobId, reason: e.failedReason,
    })),
    completedEvents: completedEvents.length,
    completedEventsUnique: new Set(completedEvents).size,
    ticks,
    counts: { main: counts },
  };
  await queue.removeJobScheduler('ticker');
  await events.close();
  await flows.close();
  await queue.obliterate({ force: true });
  await queue.close();
  outcome.limited = await rateLimited(base, `${name}-limited`);
  if (server.cluster) base.connection.disconnect();
  else outcome.serverErrors = await serverErrors(server, false);
  // Timing differs from run to run; only the lower bound above is part of the comparison.
  outcome.delayedWaitedMs = outcome.delayedWaitedMs >= 250 ? 'at least 250' : outcome.delayedWaitedMs;
  return outcome;
}
