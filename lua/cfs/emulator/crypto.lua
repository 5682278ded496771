-- SHA-256 and HMAC-SHA256 through LuaJIT's FFI into OpenSSL's libcrypto.
-- The emulator checks signatures on its own: it must not share code (and
-- so bugs) with the client's cfs.core, which it is there to test.
local ffi = require("ffi")

local M = {}

ffi.cdef [[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
int EVP_Digest(const void *data, size_t count, unsigned char *md,
               unsigned int *size, const EVP_MD *type, void *impl);
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len,
                    const unsigned char *d, size_t n, unsigned char *md,
                    unsigned int *md_len);
]]

-- nginx already links libcrypto; a plain LuaJIT (the specs) must load it.
local function load_libcrypto()
  if pcall(function() return ffi.C.EVP_sha256 end) then
    return ffi.C
  end
  local ok, lib = pcall(ffi.load, "crypto")
  if ok then return lib end
  return ffi.load("libcrypto.so.3")
end

local C = load_libcrypto()
local SHA256 = C.EVP_sha256()
local out = ffi.new("unsigned char[32]")
local out_len = ffi.new("unsigned int[1]")

local HEX = {}
for byte = 0, 255 do HEX[byte] = string.format("%02x", byte) end

local function to_hex(bytes)
  local parts = {}
  for i = 1, #bytes do parts[i] = HEX[bytes:byte(i)] end
  return table.concat(parts)
end
M.to_hex = to_hex

function M.sha256(data)
  if C.EVP_Digest(data, #data, out, out_len, SHA256, nil) ~= 1 then
    error("EVP_Digest failed")
  end
  return ffi.string(out, 32)
end

function M.sha256_hex(data)
  return to_hex(M.sha256(data))
end

function M.hmac_sha256(key, data)
  if C.HMAC(SHA256, key, #key, data, #data, out, out_len) == nil then
    error("HMAC failed")
  end
  return ffi.string(out, 32)
end

return M
