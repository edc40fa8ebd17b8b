// Several columns hold JSON arrays as text (flags, addresses). Reading one never throws: a value
// that is not a JSON array reads as empty, so one damaged row cannot break a listing.
export function parseJsonList(text: string | null | undefined): string[] {
  if (!text) return [];
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.map(String) : [];
  } catch {
    return [];
  }
}
