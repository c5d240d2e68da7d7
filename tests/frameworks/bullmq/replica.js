// Replication of BullMQ's Lua-script writes: jobs left in every state on a primary, and a
// canonical snapshot of a keyspace (every key's type and contents, sorted where Redis keeps no
// order) to compare the primary with its replica.
import { FlowProducer, Queue, Worker } from 'bullmq';

/** Leaves jobs of queue `name` completed, failed, delayed, prioritized and waiting-children. */
export async function leaveJobs(server, name) {
  const connection = { host: server.host, port: server.port, maxRetriesPerRequest: null };
  const queue = new Queue(name, { connection });
  for (let i = 0; i < 5; i += 1) await queue.add('ok', { i, nested: { list: [i, 'x'] } });
  await queue.add('bad', {}, { attempts: 1 });
  let done = 0;
  const worker = new Worker(name, async (job) => {
    done += 1;
    if (job.name === 'bad') throw new Error('bad job');
    return { doubled: job.data.i * 2 };
  }, { connection });
  const deadline = Date.now() + 30_000;
  while (done < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await worker.close();
  await queue.add('later', {}, { delay: 600_000 });
  await queue.add('urgent', {}, { priority: 2 });
  const flows = new FlowProducer({ connection });
  await flows.add({ name: 'parent', queueName: name, children: [{ name: 'kid', queueName: name }] });
  await flows.close();
  await queue.close();
}

async function contents(client, key, type) {
  switch (type) {
    case 'string': return client.get(key);
    case 'hash': return Object.entries(await client.hgetall(key)).sort();
    case 'list': return client.lrange(key, 0, -1);
    case 'set': return (await client.smembers(key)).sort();
    case 'zset': return client.zrange(key, 0, -1, 'WITHSCORES');
    case 'stream': return client.xrange(key, '-', '+');
    default: return type;
  }
}

/** Every key of the server: name -> [type, contents]. */
export async function keyspace(client) {
  const out = {};
  for (const key of (await client.keys('*')).sort()) {
    const type = await client.type(key);
    out[key] = [type, await contents(client, key, type)];
  }
  return out;
}
