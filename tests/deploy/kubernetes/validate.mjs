// Validates deploy/kubernetes/*.yaml offline: every document against the
// Kubernetes (1.27) and KEDA JSON schemas bundled in the kubernetes-models
// packages, then the cross-references a schema cannot see (selectors match
// pod labels, the Service and scale targets exist, the grace period covers
// the drain, containers run as non-root and can read their Secrets).
//   node validate.mjs DIR
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";

const dir = process.argv[2];
const problems = [];
const docs = [];
for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort()) {
  // YAML 1.1, as Kubernetes reads manifests (0440 is octal there).
  const text = fs.readFileSync(path.join(dir, file), "utf8");
  for (const d of YAML.parseAllDocuments(text, { version: "1.1" })) {
    if (d.errors.length) problems.push(`${file}: ${d.errors.map((e) => e.message).join("; ")}`);
    const obj = d.toJS();
    if (obj) docs.push({ file, obj });
  }
}

// apiVersion "apps/v1" -> module "kubernetes-models/apps/v1"; "v1" -> ".../v1";
// keda.sh -> "@kubernetes-models/keda/keda.sh/v1alpha1".
async function modelClass(apiVersion, kind) {
  const mod = apiVersion.startsWith("keda.sh/")
    ? `@kubernetes-models/keda/${apiVersion}`
    : `kubernetes-models/${apiVersion}`;
  const m = await import(mod);
  return m[kind];
}

for (const { file, obj } of docs) {
  const where = `${file}: ${obj.kind}/${obj.metadata?.name}`;
  let Model;
  try {
    Model = await modelClass(obj.apiVersion, obj.kind);
  } catch (e) {
    problems.push(`${where}: no schema for ${obj.apiVersion} ${obj.kind} (${e.message})`);
    continue;
  }
  if (!Model) {
    problems.push(`${where}: unknown kind ${obj.kind} in ${obj.apiVersion}`);
    continue;
  }
  try {
    new Model(obj).validate();
    console.log(`schema ok: ${where}`);
  } catch (e) {
    problems.push(`${where}: ${e.message}`);
  }
}

const byKind = (k) => docs.filter((d) => d.obj.kind === k).map((d) => d.obj);
const workloads = [...byKind("Deployment"), ...byKind("StatefulSet")];
const subset = (sel, labels) => Object.entries(sel || {}).every(([k, v]) => labels?.[k] === v);
for (const w of workloads) {
  const name = `${w.kind}/${w.metadata.name}`;
  const labels = w.spec.template.metadata?.labels;
  if (!subset(w.spec.selector.matchLabels, labels)) problems.push(`${name}: selector does not match its pod labels`);
  const pod = w.spec.template.spec;
  if (pod.securityContext?.runAsNonRoot !== true) problems.push(`${name}: not runAsNonRoot`);
  for (const c of pod.containers) {
    const argv = [...(c.command || []), ...(c.args || [])];
    const drain = argv.find((a) => a.startsWith("--drain-timeout-ms="));
    if (drain) {
      const drainS = Number(drain.split("=")[1]) / 1000;
      // The worker waits at least 2 s for the broker's ack after the drain.
      if (!(pod.terminationGracePeriodSeconds >= drainS + 5)) {
        problems.push(`${name}: terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} does not cover a ${drainS} s drain`);
      }
    }
    // A Secret's files belong to root (group: fsGroup): a non-root
    // container reads them through the group bits only.
    for (const v of pod.volumes || []) {
      const mode = v.secret?.defaultMode;
      if (mode !== undefined && pod.securityContext?.runAsUser !== 0 &&
          (!(mode & 0o040) || pod.securityContext?.fsGroup === undefined)) {
        problems.push(`${name}: Secret volume ${v.name} unreadable by a non-root user (mode ${mode.toString(8)}, fsGroup ${pod.securityContext?.fsGroup})`);
      }
    }
    const mounts = (c.volumeMounts || []).map((m) => m.name);
    for (const m of mounts) {
      const known = (pod.volumes || []).some((v) => v.name === m) ||
        (w.spec.volumeClaimTemplates || []).some((t) => t.metadata.name === m);
      if (!known) problems.push(`${name}: volumeMount ${m} has no volume`);
    }
  }
}
for (const s of byKind("StatefulSet")) {
  if (s.spec.replicas !== 1) problems.push(`StatefulSet/${s.metadata.name}: one broker per database: replicas must be 1`);
  if (!byKind("Service").some((v) => v.metadata.name === s.spec.serviceName)) {
    problems.push(`StatefulSet/${s.metadata.name}: serviceName ${s.spec.serviceName} is not a Service here`);
  }
}
for (const v of byKind("Service")) {
  if (!workloads.some((w) => subset(v.spec.selector, w.spec.template.metadata?.labels))) {
    problems.push(`Service/${v.metadata.name}: its selector matches no pod template`);
  }
}
for (const a of [...byKind("ScaledObject"), ...byKind("HorizontalPodAutoscaler")]) {
  const target = a.spec.scaleTargetRef.name;
  if (!byKind("Deployment").some((d) => d.metadata.name === target)) {
    problems.push(`${a.kind}/${a.metadata.name}: scale target ${target} is not a Deployment here`);
  }
}

if (problems.length) {
  for (const p of problems) console.error(`FAIL: ${p}`);
  process.exit(1);
}
console.log(`${docs.length} documents valid, cross-references consistent`);
