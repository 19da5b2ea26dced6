// A countdown that ticks in the browser (no per-second server events).
// offset = serverNow - Date.now(), measured when the server's clock reading arrives, so a
// client clock that is minutes off still shows the server's remaining time.
import { useEffect, useMemo, useState } from "react";

function format(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const m = Math.floor(total / 60);
  const s = total % 60;
  return `${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
}

export function Countdown({ expiresAt, serverNow, expiredText = "Expired", ...rest }) {
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
  if (Number.isNaN(deadline)) {
    return <span {...rest}>--:--</span>;
  }
  const left = deadline - (now + offset);
  const expired = left <= 0;
  return (
    <span
      role="timer"
      data-expired={expired ? "true" : "false"}
      data-testid="countdown"
      {...rest}
    >
      {expired ? expiredText : format(left)}
    </span>
  );
}
