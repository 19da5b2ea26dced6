// Keeps an uncontrolled text box showing one query-string parameter of the address: on the
// first render and whenever the address's query string changes (a search, Back/Forward, Clear
// search, a shared link), never while the person types, and not on a reconnect (the address
// does not change). The box stays uncontrolled, so typing sends no events.
import { useEffect } from "react";
import { useLocation } from "react-router";

export function UrlSearchSync({ inputId, param = "q" }) {
  const location = useLocation();
  useEffect(() => {
    const input = document.getElementById(inputId);
    if (!input) return;
    const value = new URLSearchParams(location.search).get(param) || "";
    if (input.value !== value) input.value = value;
  }, [location.search, inputId, param]);
  return null;
}
