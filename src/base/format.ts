// Number formatting shared by the command line, reports, studies and (by copy, since it runs in
// the browser) the dashboard's app.js: counts with one convention for units (K, M, B, T; three
// significant digits) and FLOP-style scientific notation.

/** 1234567 -> "1.23M", 115200 -> "115K", 42 -> "42", 12.345 -> "12.3"; null, undefined or non-finite -> `missing`. */
export function fmtCount(n: number | null | undefined, missing = '?'): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return missing;
  for (const [u, s] of [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'K']] as const) if (Math.abs(n) >= u) return `${+(n / u).toPrecision(3)}${s}`;
  return Number.isInteger(n) ? String(n) : String(+n.toPrecision(3));
}

/** 4.56e14 style (three significant digits); null, undefined or non-finite -> `missing`. */
export function fmtSci(n: number | null | undefined, missing = '?'): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return missing;
  return n === 0 ? '0' : n.toExponential(2).replace('e+', 'e');
}

/** Minutes as a duration: 0.2 -> "12 s", 7.5 -> "7.5 min", 45 -> "45 min", 150 -> "2.5 h". */
export function fmtMinutes(m: number): string {
  return m < 1 ? `${Math.max(1, Math.round(m * 60))} s` : m < 120 ? `${m.toFixed(m < 10 ? 1 : 0)} min` : `${(m / 60).toFixed(1)} h`;
}
