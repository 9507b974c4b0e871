// Every call the console makes: the admin routes and the model status, with the operator's
// key. Locally the server takes the API key for every route it guards (admin included); in
// the cloud the admin routes take IAM (SigV4), which this page does not sign.

export class ApiError extends Error {
  constructor(status, answer) {
    super(answer?.message ?? `HTTP ${status}`);
    this.status = status;
  }
}

export function createOpsApi({ apiBase, key }) {
  const base = (apiBase || location.origin).replace(/\/+$/, "");

  async function request(method, path, { query = {}, body } = {}) {
    const params = new URLSearchParams(query);
    const search = params.toString();
    const headers = { "x-api-key": key };
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${base}${path}${search ? `?${search}` : ""}`, {
      method, headers, cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, answer);
    return answer;
  }

  const id = encodeURIComponent;
  return {
    /** GET /models/status: the live version's record and the ten newest. */
    status: () => request("GET", "/models/status"),
    /** GET /ops/health: events per day, rejected, landed, quarantined; dead letters now. */
    health: (days = 14) => request("GET", "/ops/health", { query: { days } }),
    /** GET /ops/attribution: impressions, clicks, carts, purchases by version and tier. */
    attribution: (days = 14) => request("GET", "/ops/attribution", { query: { days } }),
    /** GET /experiments, newest first. */
    experiments: () => request("GET", "/experiments"),
    /** GET /experiments/{id}: the experiment and its verdict. */
    report: (experimentId) => request("GET", `/experiments/${id(experimentId)}`),
    /** POST /models/{version}/promote: make a stored version live (rollback or forward). */
    promote: (version) => request("POST", `/models/${id(version)}/promote`),
    /** POST /experiments/{id}/stop, with a winner or none. */
    stop: (experimentId, winner) => request("POST", `/experiments/${id(experimentId)}/stop`,
      { body: winner ? { winner } : {} }),
  };
}
