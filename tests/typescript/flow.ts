// An integration against the types openapi-typescript generates from /api/openapi.json
// (avtal.d.ts, made by the test), with openapi-fetch. Only type-checked, never run.
import createClient from "openapi-fetch";
import type { components, paths, webhooks } from "./avtal";

type Agreement = components["schemas"]["IopAgreement"];
type Problem = components["schemas"]["Problem"];
type Declined = webhooks["agreement.declined"]["post"]["requestBody"]["content"]["application/json"];

const api = createClient<paths>({ baseUrl: "https://avtal.example.se", headers: { Authorization: "Bearer nyckel" } });

function branch(problem: Problem): string {
  switch (problem.code) {
    case "invalid-input":
      return (problem.errors ?? []).map((error) => `${error.pointer}: ${error.message}`).join("\n");
    case "final-pending":
      return "vänta";
    default:
      return problem.detail;
  }
}

export async function flow(agreement: Agreement): Promise<Blob | string> {
  const created = await api.POST("/api/agreements", { body: agreement, params: { header: { "Idempotency-Key": "crm-1" } } });
  if (created.error) return branch(created.error);
  const id: number = created.data.id;

  const sent = await api.POST("/api/agreements/{agreement_id}/send", { params: { path: { agreement_id: id } } });
  if (sent.error) return branch(sent.error);
  const links: string[] = sent.data.links.map((link) => link.url);

  let cursor: string | undefined;
  do {
    const page = await api.GET("/api/agreements", { params: { query: { limit: 10, cursor, status: "sent" } } });
    if (page.error) return branch(page.error);
    cursor = page.data.next_cursor ?? undefined;
  } while (cursor);

  const status = await api.GET("/api/agreements/{agreement_id}", { params: { path: { agreement_id: id } } });
  if (status.error) return branch(status.error);
  const finalSha256: string | undefined = status.data.final?.sha256;

  const pdf = await api.GET("/api/agreements/{agreement_id}/final.pdf", {
    params: { path: { agreement_id: id } },
    parseAs: "blob",
  });
  if (pdf.error) return branch(pdf.error);
  return finalSha256 && links.length ? pdf.data : "";
}

export function onDeclined(event: Declined): string {
  const kind: components["schemas"]["Party"]["kind"] = "idéburen";
  return `${event.data.agreement.title}: ${event.data.party} (${kind}) avböjde: ${event.data.reason}`;
}
