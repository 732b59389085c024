// Logs and stores markup: the dashboard must show it as text.
export function bgUpdater(state) {
  console.log("<script>window.__pwned = 1</script>");
  return { ...state, html: "<img src=x onerror=window.__pwned=2>" };
}
