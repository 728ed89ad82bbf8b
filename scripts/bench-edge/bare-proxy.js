// The baseline for scripts/bench-edge.sh: a Worker that only forwards to the origin, run by
// the same `wrangler dev` as the edge, so that what the edge itself costs can be told from
// what the local runtime costs.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.SKEIN_ORIGIN_URL + url.pathname + url.search, request);
  },
};
