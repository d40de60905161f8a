import type { FastifyInstance } from 'fastify';
import type { HttpRouteContext } from './http-context.js';
import { modelById, modelList } from './domain/openai-models.js';

/** `GET /v1/models` and `GET /v1/models/{model}`: every name a caller may send, with when it appeared. */
export function registerModelRoutes(app: FastifyInstance, { deps, authenticate, sendError }: HttpRouteContext): void {
  app.get('/v1/models', { onRequest: authenticate }, async () => modelList(deps.models()));

  app.get<{ Params: { model: string } }>('/v1/models/:model', { onRequest: authenticate }, async (req, reply) => {
    try {
      return modelById(deps.models(), req.params.model);
    } catch (e) {
      return sendError(reply, e);
    }
  });
}
