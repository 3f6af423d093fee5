import { loadReplicaConfig } from '../gateway/config.ts';
import { openReplica } from '../gateway/replica/replica.ts';
import { runServer } from './run-server.ts';

// A read replica of the registry: see README.md, "Read replicas".
await runServer('replica', loadReplicaConfig, (config, log) => openReplica(config, { log }));
