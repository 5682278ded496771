-- SHA-256 and HMAC-SHA256 through LuaJIT's FFI into OpenSSL's libcrypto.
-- The emulator checks signatures on its own: it must not share code (and
-- so bugs) with the client's cfs.core, which it is there to test.
local ffi = require("ffi")

local M = {}

ffi.cdef [[
typedef struct evp_md_st EVP_MD;
typedef struct evp_md_ctx_st EVP_MD_CTX;
EVP_MD *EVP_MD_fetch(void *libctx, const char *algorithm,
                     const char *properties);
EVP_MD_CTX *EVP_MD_CTX_new(void);
int EVP_DigestInit_ex(EVP_MD_CTX *ctx, const EVP_MD *type, void *impl);
int EVP_DigestUpdate(EVP_MD_CTX *ctx, const void *d, size_t cnt);
int EVP_DigestFinal_ex(EVP_MD_CTX *ctx, unsigned char *md,
                       unsigned int *s);
]]

-- nginx already links libcrypto; a plain LuaJIT (the specs) must load it.
local function load_libcrypto()
  if pcall(function() return ffi.C.EVP_MD_fetch end) then
    return ffi.C
  end
  local ok, lib = pcall(ffi.load, "crypto")
  if ok then return lib end
  return ffi.load("libcrypto.so.3")
end

local C = load_libcrypto()
-- Fetched once: OpenSSL 3 looks an algorithm up on every implicit use,
-- which costs more than hashing a small request.
local SHA256 = C.EVP_MD_fetch(nil, "SHA256", nil)
local ctx = C.EVP_MD_CTX_new()
assert(SHA256 ~= nil and ctx ~= nil, "libcrypto has no SHA-256")
local out = ffi.new("unsigned char[32]")
local out_len = ffi.new("unsigned int[1]")

-- Hex through a byte buffer: a loop the JIT compiles, no table to join.
local DIGITS = ffi.new("char[17]", "0123456789abcdef")
local hex_out = ffi.new("char[64]")

local function to_hex(bytes)
  local n = #bytes
  local hex = n <= 32 and hex_out or ffi.new("char[?]", 2 * n)
  local p = ffi.cast("const uint8_t *", bytes)
  for i = 0, n - 1 do
    hex[2 * i] = DIGITS[bit.rshift(p[i], 4)]
    hex[2 * i + 1] = DIGITS[bit.band(p[i], 15)]
  end
  return ffi.string(hex, 2 * n)
end
M.to_hex = to_hex

-- SHA-256 of a .. b (b optional), without building the concatenation.
local function sha256(a, b)
  if C.EVP_DigestInit_ex(ctx, SHA256, nil) ~= 1
     or C.EVP_DigestUpdate(ctx, a, #a) ~= 1
     or (b and C.EVP_DigestUpdate(ctx, b, #b) ~= 1)
     or C.EVP_DigestFinal_ex(ctx, out, out_len) ~= 1 then
    error("SHA-256 failed")
  end
  return ffi.string(out, 32)
end
M.sha256 = sha256

function M.sha256_hex(data)
  return to_hex(sha256(data))
end

local BLOCK = 64

local function xor_pad(key, byte)
  local bytes = {}
  for i = 1, BLOCK do
    bytes[i] = string.char(bit.bxor(key:byte(i) or 0, byte))
  end
  return table.concat(bytes)
end

-- The padded keys of HMAC (RFC 2104), to compute once per key.
function M.hmac_key(key)
  if #key > BLOCK then key = sha256(key) end
  return { inner = xor_pad(key, 0x36), outer = xor_pad(key, 0x5c) }
end

function M.hmac_sha256_padded(padded, data)
  return sha256(padded.outer, sha256(padded.inner, data))
end

function M.hmac_sha256(key, data)
  return M.hmac_sha256_padded(M.hmac_key(key), data)
end

return M
