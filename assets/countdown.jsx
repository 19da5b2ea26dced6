// A countdown that ticks in the browser (no per-second server events).
// offset = serverNow - Date.now(), measured when the server's clock reading arrives, so a
// client clock that is minutes off still shows the server's remaining time.
// At 00:00 it shows "Expired" and, a second later, calls onExpire once so the page can ask
// the server (which stays authoritative) for the final status.
// With `urgentBelow` (seconds) and `urgentText`, a warning appears beside the timer once less
// than that is left (the order page: "Less than a minute left …"), announced as an alert.
import { useEffect, useMemo, useRef, useState } from "react";
import { Text } from "@radix-ui/themes";

function format(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const m = Math.floor(total / 60);
  const s = total % 60;
  return `${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
}

export function Countdown({
  expiresAt,
  serverNow,
  expiredText = "Expired",
  urgentBelow = 0,
  urgentText = "",
  onExpire,
  ...rest
}) {
  const offset = useMemo(() => {
    const server = Date.parse(serverNow || "");
    return Number.isNaN(server) ? 0 : server - Date.now();
  }, [serverNow]);
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(id);
  }, []);
  const deadline = Date.parse(expiresAt || "");
  const known = !Number.isNaN(deadline);
  const left = known ? deadline - (now + offset) : 0;
  const expired = known && left <= 0;

  const onExpireRef = useRef(onExpire);
  onExpireRef.current = onExpire;
  const firedFor = useRef(null);
  useEffect(() => {
    if (!expired || firedFor.current === expiresAt) return undefined;
    const id = setTimeout(() => {
      firedFor.current = expiresAt;
      onExpireRef.current?.();
    }, 1000);
    return () => clearTimeout(id);
  }, [expired, expiresAt]);

  if (!known) {
    return <span {...rest}>--:--</span>;
  }
  const urgent = !expired && urgentText && left < urgentBelow * 1000;
  const timer = (
    <span role="timer" data-expired={expired ? "true" : "false"} {...rest}>
      {expired ? expiredText : format(left)}
    </span>
  );
  if (!urgentText) return timer;
  return (
    <>
      {timer}
      {urgent ? (
        <Text as="span" size="2" weight="bold" color="amber" role="alert" data-testid="urgent">
          {urgentText}
        </Text>
      ) : null}
    </>
  );
}
