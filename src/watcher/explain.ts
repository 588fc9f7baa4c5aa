/**
 * `GET /explain/:kind/:namespace/:name`: for one workload, which resources it
 * follows and their hashes, what its template and its newest pods carry, and
 * whether it would reload now (and why). Read-only; names and hashes only.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { WorkloadKind } from '../core/types.ts';
import type { Controller } from './controller.ts';

const KINDS: Record<string, WorkloadKind> = {
  deployment: 'Deployment',
  deployments: 'Deployment',
  statefulset: 'StatefulSet',
  statefulsets: 'StatefulSet',
  daemonset: 'DaemonSet',
  daemonsets: 'DaemonSet',
  cronjob: 'CronJob',
  cronjobs: 'CronJob',
  job: 'Job',
  jobs: 'Job',
  rollout: 'Rollout',
  rollouts: 'Rollout',
};

export const explainRoutes: FastifyPluginAsync<{ controller: Controller }> = async (app, opts) => {
  if (!opts.controller) throw new Error('explain plugin needs the controller');
  app.get<{ Params: { kind: string; namespace: string; name: string } }>('/explain/:kind/:namespace/:name', async (req, reply) => {
    const kind = KINDS[req.params.kind.toLowerCase()];
    if (!kind) return reply.code(400).send({ error: `unknown workload kind ${JSON.stringify(req.params.kind)}; use one of deployment, statefulset, daemonset, cronjob, job, rollout` });
    const { namespace, name } = req.params;
    if (!opts.controller.watches(namespace)) return reply.code(404).send({ error: `namespace ${namespace} is not watched` });
    const e = await opts.controller.explain(kind, namespace, name);
    if (!e) return reply.code(404).send({ error: `${kind} ${namespace}/${name} not found` });
    return e;
  });
};
