-- The scripting sandbox, run once when the interpreter starts (chunk name "=ringkv").
--
-- Redis 7 locks its globals and library tables with a read-only flag its own Lua carries; the
-- stock Lua 5.1 has no such flag, so scripts run in an environment of proxies instead: every
-- global read goes through `env`, which raises Redis's error for a missing name, and every write
-- to `env` or to a library table raises Redis's "Attempt to modify a readonly table". Nothing a
-- script does therefore survives it (the scripts cache shares one interpreter, as in Redis).
--
-- Arguments: the real globals and the libraries written in Rust.
local G, raw = ...
local error, setmetatable, type, tostring, setfenv = G.error, G.setmetatable, G.type, G.tostring, G.setfenv
local real_pcall, real_loadstring, real_load = G.pcall, G.loadstring, G.load

local function readonly_error()
  error('Attempt to modify a readonly table', 2)
end

local function readonly(t)
  return setmetatable({}, {__index = t, __newindex = readonly_error, __metatable = false})
end

local store = {}
local env = setmetatable({}, {
  __index = function(_, name)
    local v = store[name]
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
    end
    return v
  end,
  __newindex = readonly_error,
  __metatable = false,
})

local redis = {}
for k, v in G.pairs(raw.redis) do redis[k] = v end
-- Replies built by the script: a wrong call gives the error table instead (as Redis does).
local function single_field(field)
  return function(...)
    local s = ...
    if G.select('#', ...) ~= 1 or type(s) ~= 'string' then
      return {err = 'ERR wrong number or type of arguments'}
    end
    return {[field] = s}
  end
end
redis.status_reply = single_field('ok')
local error_reply = single_field('err')
redis.error_reply = function(...)
  local r = error_reply(...)
  local e = r.err
  if G.select('#', ...) == 1 and type(e) == 'string' then
    if G.string.sub(e, 1, 1) == '-' then e = G.string.sub(e, 2) end
    if not G.string.find(e, ' ', 1, true) then e = 'ERR ' .. e end
    r.err = e
  end
  return r
end


local math = {}
for k, v in G.pairs(G.math) do math[k] = v end
math.random = raw.random
math.randomseed = raw.randomseed

-- Redis's pcall: an error raised as a table {err=...} (redis.call's) comes back as its text.
local function pcall_result(ok, ...)
  if ok then return ok, ... end
  local e = ...
  if type(e) == 'userdata' then e = raw.error_text(e) end
  if type(e) == 'table' and type(e.err) == 'string' then e = e.err end
  return false, e
end

local allowed = {
  'xpcall', 'tostring', 'getfenv', 'setmetatable', 'next', 'assert', 'tonumber', 'rawequal',
  'collectgarbage', 'getmetatable', 'rawset', 'type', 'select', 'unpack', 'gcinfo', 'pairs',
  'rawget', 'ipairs', '_VERSION', 'setfenv', 'error', 'newproxy',
}
for _, name in G.ipairs(allowed) do store[name] = G[name] end
store.coroutine = readonly(G.coroutine)
store.string = readonly(G.string)
store.table = readonly(G.table)
store.math = readonly(math)
store.redis = readonly(redis)
store.cjson = readonly(raw.cjson)
store.bit = readonly(raw.bit)
store._G = env
store.pcall = function(...) return pcall_result(real_pcall(...)) end
-- Code compiled by a script runs in the script's environment, not the interpreter's.
store.loadstring = function(...)
  local f, e = real_loadstring(...)
  if f then setfenv(f, env) end
  return f, e
end
store.load = function(...)
  local f, e = real_load(...)
  if f then setfenv(f, env) end
  return f, e
end

return env, store
