// The AWS SDK for JavaScript v3 (@aws-sdk/client-elasticache) drives create -> waiter ->
// describe -> delete against elasticache-local, and the Node.js Redis clients (ioredis, its
// Cluster client, node-redis and its cluster client) read and write through the endpoints the
// API reports. Run by scripts/test.sh (`npm ci && node --test`); starts its own emulator from
// ECL_BINARY (default target/debug/elasticache-local) unless ECL_ENDPOINT names a running one.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

import {
  CreateCacheClusterCommand,
  CreateReplicationGroupCommand,
  DeleteCacheClusterCommand,
  DeleteReplicationGroupCommand,
  DescribeCacheClustersCommand,
  DescribeReplicationGroupsCommand,
  ElastiCacheClient,
  waitUntilCacheClusterAvailable,
  waitUntilCacheClusterDeleted,
  waitUntilReplicationGroupAvailable,
  waitUntilReplicationGroupDeleted,
} from '@aws-sdk/client-elasticache';
import Redis, { Cluster } from 'ioredis';
import { createClient, createCluster } from 'redis';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const NODE_TYPE = 'cache.t3.micro';
// Waiters poll every 15 s by default on AWS; the emulator settles in milliseconds.
const WAIT = { maxWaitTime: 120, minDelay: 1, maxDelay: 2 };

let emulator;
let endpoint = process.env.ECL_ENDPOINT;
let ec;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitHealthy(url) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`emulator at ${url} not healthy after 60 s`);
}

before(async () => {
  if (!endpoint) {
    const binary = process.env.ECL_BINARY ?? path.join(ROOT, 'target/debug/elasticache-local');
    const port = await freePort();
    // `ports` addressing: every endpoint on 127.0.0.1, a port each, from a block apart from
    // the Python suites' emulators (20000-32999).
    const first = 33000 + Math.floor(Math.random() * 900);
    endpoint = `http://127.0.0.1:${port}`;
    const logFile = path.join(process.env.ECL_LOG_DIR ?? tmpdir(), `ecl-js-sdk-${process.pid}.log`);
    const log = openSync(logFile, 'w');
    emulator = spawn(binary, ['--listen', `127.0.0.1:${port}`, '--addressing', 'ports',
      '--port-range', `${first}-${first + 99}`], { stdio: ['ignore', log, log] });
    console.log(`emulator ${endpoint}, log ${logFile}`);
    await waitHealthy(endpoint);
  }
  ec = new ElastiCacheClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
});

after(() => {
  ec?.destroy();
  emulator?.kill('SIGTERM');
});

test('cache cluster: create, waiter, describe, ioredis and node-redis, delete', async () => {
  const id = `js-cache-${process.pid}`;
  await ec.send(new CreateCacheClusterCommand({
    CacheClusterId: id, Engine: 'redis', CacheNodeType: NODE_TYPE, NumCacheNodes: 1,
  }));
  const waited = await waitUntilCacheClusterAvailable({ client: ec, ...WAIT }, { CacheClusterId: id });
  assert.equal(waited.state, 'SUCCESS');
  const { CacheClusters } = await ec.send(new DescribeCacheClustersCommand({
    CacheClusterId: id, ShowCacheNodeInfo: true,
  }));
  assert.equal(CacheClusters.length, 1);
  const cluster = CacheClusters[0];
  assert.equal(cluster.CacheClusterStatus, 'available');
  assert.equal(cluster.Engine, 'redis');
  const { Address: host, Port: port } = cluster.CacheNodes[0].Endpoint;

  const io = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 1 });
  await io.connect();
  assert.equal(await io.set('js:io', 'from-ioredis'), 'OK');
  await io.hset('js:hash', { a: '1', b: '2' });
  assert.equal(await io.incr('js:counter'), 1);

  const nr = createClient({ socket: { host, port } });
  await nr.connect();
  // Each client reads what the other wrote: the same node, whichever client.
  assert.equal(await nr.get('js:io'), 'from-ioredis');
  assert.deepEqual({ ...(await nr.hGetAll('js:hash')) }, { a: '1', b: '2' });
  await nr.set('js:nr', 'from-node-redis', { EX: 60 });
  assert.equal(await io.get('js:nr'), 'from-node-redis');
  assert.ok((await io.ttl('js:nr')) > 0);
  await nr.quit();
  io.disconnect();

  await ec.send(new DeleteCacheClusterCommand({ CacheClusterId: id }));
  const gone = await waitUntilCacheClusterDeleted({ client: ec, ...WAIT }, { CacheClusterId: id });
  assert.equal(gone.state, 'SUCCESS');
});

test('cluster-mode replication group: waiter, ioredis Cluster and node-redis cluster on the configuration endpoint', async () => {
  const id = `js-sharded-${process.pid}`;
  await ec.send(new CreateReplicationGroupCommand({
    ReplicationGroupId: id,
    ReplicationGroupDescription: 'JS SDK v3 test',
    Engine: 'redis',
    CacheNodeType: NODE_TYPE,
    NumNodeGroups: 2,
    ReplicasPerNodeGroup: 1,
    CacheParameterGroupName: 'default.redis7.cluster.on',
  }));
  const waited = await waitUntilReplicationGroupAvailable({ client: ec, ...WAIT }, { ReplicationGroupId: id });
  assert.equal(waited.state, 'SUCCESS');
  const { ReplicationGroups } = await ec.send(new DescribeReplicationGroupsCommand({ ReplicationGroupId: id }));
  const group = ReplicationGroups[0];
  assert.equal(group.Status, 'available');
  assert.equal(group.ClusterEnabled, true);
  assert.equal(group.NodeGroups.length, 2);
  assert.equal(group.MemberClusters.length, 4);
  const { Address: host, Port: port } = group.ConfigurationEndpoint;

  // Keys spread over both shards: the clients must follow the slot map (and MOVED).
  const keys = Array.from({ length: 40 }, (_, i) => `js:key:${i}`);
  const io = new Cluster([{ host, port }], { lazyConnect: true, redisOptions: { maxRetriesPerRequest: 1 } });
  await io.connect();
  for (const k of keys) assert.equal(await io.set(k, `v-${k}`), 'OK');
  const masters = io.nodes('master');
  assert.equal(masters.length, 2);
  const perShard = await Promise.all(masters.map((m) => m.dbsize()));
  assert.equal(perShard.reduce((a, b) => a + b, 0), keys.length);
  assert.ok(perShard.every((n) => n > 0), `keys on both shards: ${perShard}`);

  const nr = createCluster({ rootNodes: [{ socket: { host, port } }] });
  await nr.connect();
  for (const k of keys) assert.equal(await nr.get(k), `v-${k}`);
  await nr.set('js:{tag}:a', '1');
  assert.equal(await io.get('js:{tag}:a'), '1');
  await nr.quit();
  io.disconnect();

  await ec.send(new DeleteReplicationGroupCommand({ ReplicationGroupId: id }));
  const gone = await waitUntilReplicationGroupDeleted({ client: ec, ...WAIT }, { ReplicationGroupId: id });
  assert.equal(gone.state, 'SUCCESS');
});
