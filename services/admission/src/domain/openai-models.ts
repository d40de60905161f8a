import type { CatalogModel, ModelCatalog } from './model-catalog.js';
import { requireKnownModel } from './model-catalog.js';

/** One model as OpenAI's `/v1/models` lists it; `created` in Unix seconds. */
export const openAiModel = (m: CatalogModel) => ({ id: m.id, object: 'model', created: Math.floor(m.createdUnixMs / 1000), owned_by: 'switchyard' });

/** `GET /v1/models`: every name a caller may send, sorted by id. */
export function modelList(catalog: ModelCatalog) {
  return { object: 'list', data: [...catalog.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(openAiModel) };
}

/** `GET /v1/models/{id}`: the model, or NOT_FOUND `model_not_found` listing what is available. */
export function modelById(catalog: ModelCatalog, id: string) {
  requireKnownModel(catalog, id);
  return openAiModel(catalog.get(id)!);
}
