// vantage6's Pagination: `{data, links}` plus `total-count` and `Link` headers. Links exist only for
// pages that exist (no `previous` on page 1, no `next` on the last page, no `last` when empty).
import type { ApiRequest, Reply } from './router.js';

const DEFAULT_PER_PAGE = 10;

function positiveInt(value: string | null, fallback: number): number {
  const n = Number(value);
  return value !== null && Number.isInteger(n) && n > 0 ? n : fallback;
}

export function paginate<T>(request: ApiRequest, items: T[], render: (item: T) => unknown): Reply {
  const page = positiveInt(request.query.get('page'), 1);
  const perPage = positiveInt(request.query.get('per_page'), DEFAULT_PER_PAGE);
  const total = items.length;
  const pages = Math.ceil(total / perPage);
  const slice = items.slice((page - 1) * perPage, page * perPage);
  const hasNext = (page - 1) * perPage + slice.length < total;
  const navs: [string, number | null][] = [
    ['first', 1],
    ['previous', page > 1 ? page - 1 : null],
    ['self', page],
    ['next', hasNext ? page + 1 : null],
    ['last', pages > 0 ? pages : null],
  ];
  const links: Record<string, string> = {};
  for (const [rel, target] of navs) {
    if (target === null) continue;
    const args = new URLSearchParams(request.query);
    args.set('page', String(target));
    links[rel] = `${request.path}?${args.toString()}`;
  }
  return {
    status: 200,
    body: { data: slice.map(render), links },
    headers: {
      'total-count': String(total),
      Link: Object.entries(links).map(([rel, url]) => `<${url}>; rel=${rel}`).join(','),
    },
  };
}
