// A UTC instant shown in the viewer's own time zone (the browser's), e.g. "Sat, 5 Dec 2026,
// 20:00 CET". The server stores and sends UTC only; this is the one place that localises.
import { useEffect, useState } from "react";

const STYLES = {
  datetime: { weekday: "short", day: "numeric", month: "short", year: "numeric",
              hour: "2-digit", minute: "2-digit", timeZoneName: "short" },
  date: { weekday: "short", day: "numeric", month: "short", year: "numeric" },
  time: { hour: "2-digit", minute: "2-digit", timeZoneName: "short" },
  // listings and orders: "01.12.2026, 13:15" in Berlin, "Dec 1, 2026, 1:15 PM" in New York
  medium: { dateStyle: "medium", timeStyle: "short" },
};

export function LocalTime({ value, kind = "datetime", ...rest }) {
  // Rendered after mount: a prerendered page (no browser zone yet) shows the UTC instant.
  const [zoned, setZoned] = useState(false);
  useEffect(() => setZoned(true), []);
  const at = new Date(value || "");
  if (Number.isNaN(at.getTime())) {
    return <span {...rest} />;
  }
  const options = STYLES[kind] || STYLES.datetime;
  const text = zoned
    ? new Intl.DateTimeFormat(undefined, options).format(at)
    : new Intl.DateTimeFormat("en-GB", { ...options, timeZone: "UTC" }).format(at);
  return (
    <time dateTime={at.toISOString()} {...rest}>
      {text}
    </time>
  );
}
