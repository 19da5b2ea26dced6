// Money and times in the viewer's own locale and time zone (the browser's Intl), so one page
// reads "€75.50" / "Dec 1, 2026, 1:15 PM" in New York and "75,50 €" / "01.12.2026, 13:15" in
// Berlin. Amounts arrive as decimal major units, times as ISO 8601 UTC; both are formatted
// only here, in the browser, which knows the viewer's settings.
import { useMemo } from "react";

export function formatMoney(amount, currency) {
  if (amount === null || amount === undefined || amount === "") return "";
  const n = Number(amount);
  if (Number.isNaN(n)) return "";
  if (!currency) return n.toFixed(2);
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(n);
  } catch (err) {
    return `${n.toFixed(2)} ${currency}`;
  }
}

export function Money({ amount, currency, ...rest }) {
  const text = useMemo(() => formatMoney(amount, currency), [amount, currency]);
  return <span {...rest}>{text}</span>;
}
