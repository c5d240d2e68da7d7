// BullMQ, unchanged, against Redis nodes of elasticache-local created through the Query API (a
// single-node cache cluster, the primary of a cluster-mode-disabled replication group, and a
// cluster-mode-enabled group through ioredis' Cluster client) and against Debian's redis-server
// 7.0.15 started on a free port: the same scenario runs on each and its observable outcome (job
// results, processing order, events, counts, the server's error kinds) must be equal. Queue
// operations are compared the same way, and the group's replica must hold what its primary holds.
// BullMQ is built on Lua scripts (EVALSHA with many keys, cmsgpack, XADD events, blocking
// BZPOPMIN markers), so this is a check of our scripting against real-world scripts.
// Run by scripts/test.sh (`npm ci && node --test`); starts its own emulator from ECL_BINARY
// (default target/debug/elasticache-local). Without redis-server the parity test is skipped and
// the scenario's outcome is checked against the expected values alone.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

import {
  CreateCacheClusterCommand,
  CreateCacheParameterGroupCommand,
  ModifyCacheParameterGroupCommand,
  CreateReplicationGroupCommand,
  DescribeCacheClustersCommand,
  DescribeReplicationGroupsCommand,
  ElastiCacheClient,
  waitUntilCacheClusterAvailable,
  waitUntilReplicationGroupAvailable,
} from '@aws-sdk/client-elasticache';

import { Redis } from 'ioredis';

import { operations } from './operations.js';
import { keyspace, leaveJobs } from './replica.js';
import { scenario } from './scenario.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const WAIT = { maxWaitTime: 120, minDelay: 1, maxDelay: 2 };
const LOG_DIR = process.env.ECL_LOG_DIR ?? tmpdir();

const children = [];
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

async function until(what, probe, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not ready after ${ms} ms`);
}

function tcpOpen(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

function logFile(name) {
  return openSync(path.join(LOG_DIR, `${name}-${process.pid}.log`), 'w');
}

async function startEmulator() {
  const binary = process.env.ECL_BINARY ?? path.join(ROOT, 'target/debug/elasticache-local');
  const port = await freePort();
  // `ports` addressing, from a block apart from the Python suites (20000-32999) and the JS
  // SDK suite (33000-33999), and below Linux's ephemeral ports (32768+), which an outgoing
  // client socket may hold when a node binds.
  const first = 17000 + Math.floor(Math.random() * 900);
  const endpoint = `http://127.0.0.1:${port}`;
  const log = logFile('ecl-frameworks-bullmq');
  children.push(spawn(binary, ['--listen', `127.0.0.1:${port}`, '--addressing', 'ports',
    '--port-range', `${first}-${first + 99}`], { stdio: ['ignore', log, log] }));
  await until('emulator', async () => (await fetch(`${endpoint}/health`)).ok);
  return endpoint;
}

function redisServerPath() {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

async function startRedisServer(binary) {
  const port = await freePort();
  const log = logFile('redis-server-bullmq');
  children.push(spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--daemonize', 'no'], { stdio: ['ignore', log, log] }));
  await until('redis-server', () => tcpOpen(port));
  return { host: '127.0.0.1', port };
}

async function cacheClusterNode(id) {
  await ec.send(new CreateCacheClusterCommand({
    CacheClusterId: id, Engine: 'redis', CacheNodeType: 'cache.t3.micro', NumCacheNodes: 1,
    CacheParameterGroupName: PARAMS,
  }));
  await waitUntilCacheClusterAvailable({ client: ec, ...WAIT }, { CacheClusterId: id });
  const { CacheClusters } = await ec.send(new DescribeCacheClustersCommand({
    CacheClusterId: id, ShowCacheNodeInfo: true,
  }));
  const { Address: host, Port: port } = CacheClusters[0].CacheNodes[0].Endpoint;
  return { host, port };
}

async function replicationGroupPrimary(id) {
  await ec.send(new CreateReplicationGroupCommand({
    ReplicationGroupId: id,
    ReplicationGroupDescription: 'BullMQ framework test',
    Engine: 'redis',
    CacheNodeType: 'cache.t3.micro',
    NumCacheClusters: 2,
    CacheParameterGroupName: PARAMS,
  }));
  await waitUntilReplicationGroupAvailable({ client: ec, ...WAIT }, { ReplicationGroupId: id });
  const { ReplicationGroups } = await ec.send(new DescribeReplicationGroupsCommand({
    ReplicationGroupId: id,
  }));
  const group = ReplicationGroups[0];
  assert.equal(group.ClusterEnabled, false);
  const { Address: host, Port: port } = group.NodeGroups[0].PrimaryEndpoint;
  const replica = group.NodeGroups[0].NodeGroupMembers.find((m) => m.CurrentRole === 'replica');
  groupReplica = { host: replica.ReadEndpoint.Address, port: replica.ReadEndpoint.Port };
  return { host, port };
}

// BullMQ asks for maxmemory-policy noeviction (it warns on ElastiCache's default volatile-lru),
// so the nodes get it the way an AWS user sets it: a custom parameter group.
const PARAMS = `bullmq-noeviction-${process.pid}`;

async function noevictionParameterGroup() {
  await ec.send(new CreateCacheParameterGroupCommand({
    CacheParameterGroupName: PARAMS, CacheParameterGroupFamily: 'redis7', Description: 'BullMQ',
  }));
  await ec.send(new ModifyCacheParameterGroupCommand({
    CacheParameterGroupName: PARAMS,
    ParameterNameValues: [{ ParameterName: 'maxmemory-policy', ParameterValue: 'noeviction' }],
  }));
}

async function maxmemoryPolicy(server) {
  const client = new Redis({ host: server.host, port: server.port, lazyConnect: true });
  await client.connect();
  const [, policy] = await client.config('GET', 'maxmemory-policy');
  client.disconnect();
  return policy;
}

async function clusterModeGroup(id) {
  await ec.send(new CreateReplicationGroupCommand({
    ReplicationGroupId: id,
    ReplicationGroupDescription: 'BullMQ on a cluster-mode-enabled group',
    Engine: 'redis',
    CacheNodeType: 'cache.t3.micro',
    NumNodeGroups: 2,
    ReplicasPerNodeGroup: 0,
    CacheParameterGroupName: 'default.redis7.cluster.on',
  }));
  await waitUntilReplicationGroupAvailable({ client: ec, ...WAIT }, { ReplicationGroupId: id });
  const { ReplicationGroups } = await ec.send(new DescribeReplicationGroupsCommand({
    ReplicationGroupId: id,
  }));
  const { Address: host, Port: port } = ReplicationGroups[0].ConfigurationEndpoint;
  return { cluster: [{ host, port }] };
}

const outcomes = {};
let redisServer = null;
let cacheNode;
let groupPrimary;
let groupReplica;
let sharded;

before(async () => {
  const endpoint = await startEmulator();
  ec = new ElastiCacheClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  await noevictionParameterGroup();
  [cacheNode, groupPrimary, sharded] = await Promise.all([
    cacheClusterNode(`bullmq-cache-${process.pid}`),
    replicationGroupPrimary(`bullmq-rg-${process.pid}`),
    clusterModeGroup(`bullmq-sharded-${process.pid}`),
  ]);
  const binary = redisServerPath();
  if (binary) redisServer = await startRedisServer(binary);
});

after(() => {
  ec?.destroy();
  for (const child of children) child.kill('SIGTERM');
});

// What the scenario must produce on any correct Redis: the values scenario.js computes from
// its own inputs, independent of the server.
function assertExpected(out) {
  assert.deepEqual(out.results, {
    'add-1': 3, 'add-2': 30, delayed: 'late', flaky: 'ok after 2 failures',
    parent: { sum: 60, children: 3 }, 'prio-1': 'p1', 'prio-2': 'p2', 'prio-3': 'p3',
  });
  assert.deepEqual(out.prioOrder, ['prio-1', 'prio-2', 'prio-3']);
  assert.equal(out.delayedWaitedMs, 'at least 250');
  assert.deepEqual(out.failed, [{ name: 'doomed', reason: 'always fails', attemptsMade: 2 }]);
  assert.equal(out.ticks, 3);
  assert.deepEqual(out.counts.main, {
    active: 0, completed: 14, delayed: 0, failed: 1, paused: 0, prioritized: 0,
    'waiting-children': 0, wait: 0,
  });
  assert.equal(out.limited.completed, 6);
  assert.equal(out.limited.elapsedAtLeastTwoWindows, true);
}

test('BullMQ on a cache cluster node created through the API', async () => {
  assert.equal(await maxmemoryPolicy(cacheNode), 'noeviction');
  outcomes.cache = await scenario(cacheNode, 'cache');
  assertExpected(outcomes.cache);
});

test('BullMQ on the primary of a cluster-mode-disabled replication group', async () => {
  assert.equal(await maxmemoryPolicy(groupPrimary), 'noeviction');
  outcomes.group = await scenario(groupPrimary, 'group');
  assertExpected(outcomes.group);
});

test('BullMQ on redis-server 7.0.15: the same outcome as on our nodes', async (t) => {
  if (!redisServer) {
    t.skip('redis-server is not installed');
    return;
  }
  assert.equal(await maxmemoryPolicy(redisServer), 'noeviction');
  const reference = await scenario(redisServer, 'reference');
  outcomes.reference = reference;
  assertExpected(reference);
  assert.deepEqual(outcomes.cache, reference);
  assert.deepEqual(outcomes.group, reference);
});

test('BullMQ on a cluster-mode-enabled group: ioredis Cluster, a hash-tagged prefix', async () => {
  const out = await scenario(sharded, 'sharded');
  assertExpected(out);
  if (outcomes.reference) {
    const { serverErrors, ...reference } = outcomes.reference;
    assert.ok(serverErrors);
    assert.deepEqual(out, reference);
  }
});

test('BullMQ queue operations: the same results on our nodes as on redis-server 7.0.15', async () => {
  const results = {
    cache: await operations(cacheNode, 'cache'),
    group: await operations(groupPrimary, 'group'),
  };
  if (redisServer) results.reference = await operations(redisServer, 'reference');
  for (const [name, out] of Object.entries(results)) {
    assert.deepEqual(out.waiting, ['b1', 'b2', 'b3', 'while-paused'], name);
    assert.deepEqual(out.logs, { logs: ['first line', 'second line'], count: 2 }, name);
    assert.equal(out.progress, 42, name);
    assert.equal(out.deduplicated, true, name);
    assert.equal(out.retriedResult, 'fail-once', name);
    assert.equal(out.cleaned, 7, name);
    if (results.reference) assert.deepEqual(out, results.reference, `${name} vs redis-server`);
  }
});

test('BullMQ writes reach the replica of the replication group as they are on the primary', async () => {
  await leaveJobs(groupPrimary, 'replicated');
  const primary = new Redis({ ...groupPrimary, lazyConnect: true });
  const replica = new Redis({ ...groupReplica, lazyConnect: true });
  await primary.connect();
  await replica.connect();
  try {
    // WAIT: the replica has acknowledged everything written so far.
    assert.equal(await primary.wait(1, 5000), 1);
    const onPrimary = await keyspace(primary);
    assert.ok(Object.keys(onPrimary).length > 10, JSON.stringify(onPrimary));
    assert.deepEqual(await keyspace(replica), onPrimary);
  } finally {
    primary.disconnect();
    replica.disconnect();
  }
});
