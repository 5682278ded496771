// Runs the official Tencent Cloud Node.js SDK against a CFS emulator and
// prints one JSON object: what each call answered. spec/conformance_spec.lua
// starts the emulator, runs this script and judges the answers.
//
// Environment (set by the spec):
//   CFS_EMULATOR_ENDPOINT  the emulator's https endpoint (https://127.0.0.1:N)
//   CFS_EMULATOR_CA_FILE   the CA that signed the emulator's certificate
//   CFS_SECRET_ID, CFS_SECRET_KEY  the emulator's test key pair
//
// Nothing secret is printed: answers carry codes, ids and request ids only.
"use strict";

const fs = require("fs");
const https = require("https");
const tls = require("tls");
const tencentcloud = require("tencentcloud-sdk-nodejs");

const ENDPOINT = "cfs.tencentcloudapi.com";
const REGION = "ap-guangzhou";
const SKEW_MS = 10 * 60 * 1000;

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error("missing environment variable " + name);
  return value;
}

const emulatorUrl = new URL(required("CFS_EMULATOR_ENDPOINT"));
const ca = fs.readFileSync(required("CFS_EMULATOR_CA_FILE"));

// The SDK signs for the service named by the endpoint's first label and
// sends Host: cfs.tencentcloudapi.com, so the endpoint stays as it is and
// only the connection is routed: every socket goes to the emulator on
// loopback, and anything but the CFS host is refused, so no request can
// leave the machine.
//
// TLS stays fully verified: the chain must lead to the emulator's CA, and
// the certificate must name "localhost" (its SAN; it cannot name
// cfs.tencentcloudapi.com). servername sets both the SNI and the name Node's
// checkServerIdentity checks, so a wrong CA or a certificate for another
// name still fails the handshake. Plain http:// would skip TLS altogether.
class EmulatorAgent extends https.Agent {
  constructor(options) {
    super({ keepAlive: false, ca });
    this.tamper = options && options.tamper;
    this.tampered = 0;
  }

  createConnection(options, callback) {
    if (options.host !== ENDPOINT) {
      throw new Error("refusing to connect to " + options.host);
    }
    const socket = tls.connect({
      ...options,
      host: emulatorUrl.hostname,
      port: Number(emulatorUrl.port),
      servername: "localhost",
      ca,
      rejectUnauthorized: true,
    });
    if (this.tamper) this.tamperWith(socket, this.tamper);
    if (callback) socket.once("secureConnect", () => callback(null, socket));
    return socket;
  }

  // Changes one byte of the body on its way into the socket, after the SDK
  // has signed it: `from` (found only in the body) becomes `to`, same size.
  tamperWith(socket, { from, to }) {
    const write = socket.write;
    const agent = this;
    socket.write = function (chunk, encoding, cb) {
      const buffer = Buffer.isBuffer(chunk) ? chunk
        : Buffer.from(chunk, typeof encoding === "string" ? encoding : "utf8");
      const at = buffer.indexOf(from);
      if (at >= 0) {
        const changed = Buffer.from(buffer);
        changed.write(to, at, "utf8");
        agent.tampered += 1;
        return write.call(this, changed, cb || encoding);
      }
      return write.apply(this, arguments);
    };
  }
}

function client(options) {
  const o = options || {};
  const agent = new EmulatorAgent({ tamper: o.tamper });
  const CfsClient = tencentcloud.cfs.v20190719.Client;
  const cfs = new CfsClient({
    credential: {
      secretId: required("CFS_SECRET_ID"),
      secretKey: o.secretKey || required("CFS_SECRET_KEY"),
    },
    region: REGION,
    profile: { httpProfile: { endpoint: ENDPOINT, reqTimeout: 10, agent } },
  });
  return { cfs, agent };
}

// What an answer or an SDK error says, without the SDK's whole objects.
async function outcome(call) {
  try {
    return { ok: true, response: await call() };
  } catch (err) {
    return { ok: false, code: err.code || null, request_id: err.requestId
      || null, http_code: err.httpCode || null, message: err.message };
  }
}

// The SDK stamps X-TC-Timestamp from `new Date()`: run fn with a clock
// SKEW_MS behind, the way a client with a slow clock would sign.
async function withSlowClock(fn) {
  const RealDate = Date;
  class SlowDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() - SKEW_MS);
      else super(...args);
    }
    static now() { return RealDate.now() - SKEW_MS; }
  }
  global.Date = SlowDate;
  try {
    return await fn();
  } finally {
    global.Date = RealDate;
  }
}

const FLOW = {
  FileSystemId: "cfs-44d53b63e",
  SourceStorageType: "S3_COS",
  SourceStorageAddress:
    "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com",
  SourcePath: "test3",
  TargetPath: "/cfs/conformance",
  SecretId: "AKIDconformanceCosReader",
  SecretKey: "conformanceCosReaderKey",
  DataFlowName: "conformance",
};

async function main() {
  const results = { sdk_version: require(
    "tencentcloud-sdk-nodejs/package.json").version };
  const { cfs } = client();

  results.create = await outcome(() => cfs.CreateDataFlow(FLOW));
  const id = results.create.ok && results.create.response.DataFlowId;
  results.describe = await outcome(() => cfs.DescribeDataFlow({
    FileSystemId: FLOW.FileSystemId, DataFlowId: id || undefined }));
  results.modify = await outcome(() => cfs.ModifyDataFlow({
    DataFlowId: id || undefined, FileSystemId: FLOW.FileSystemId,
    DataFlowName: "conformance-renamed" }));
  results.describe_modified = await outcome(() => cfs.DescribeDataFlow({
    DataFlowId: id || undefined }));
  results.delete = await outcome(() => cfs.DeleteDataFlow({
    DataFlowId: id || undefined, FileSystemId: FLOW.FileSystemId }));
  results.describe_deleted = await outcome(() => cfs.DescribeDataFlow({
    DataFlowId: id || undefined }));

  const tampering = client({ tamper: { from: '"SourcePath":"test3"',
                                       to: '"SourcePath":"test4"' } });
  results.tampered_body = await outcome(
    () => tampering.cfs.CreateDataFlow(FLOW));
  results.tampered_body.bytes_changed_in = tampering.agent.tampered;

  const wrong = client({ secretKey: required("CFS_SECRET_KEY") + "x" });
  results.wrong_secret_key = await outcome(
    () => wrong.cfs.CreateDataFlow(FLOW));

  results.old_timestamp = await withSlowClock(
    () => outcome(() => cfs.CreateDataFlow(FLOW)));

  process.stdout.write(JSON.stringify(results) + "\n");
}

main().catch((err) => {
  process.stderr.write("conformance run failed: " + err.message + "\n");
  process.exit(1);
});
