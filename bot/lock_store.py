"""Rasa's Redis lock store, safe for several Rasa replicas at once.

Why: Rasa 3.6's ``RedisLockStore`` updates a conversation's ticket lock by reading it,
changing it in Python and writing it back. Two replicas doing that at the same moment
overwrite each other: a finished ticket comes back to life (everyone behind it waits
until it expires, 60 s, and then gives up) or a new ticket is deleted. Either way a
customer's message is dropped with ``LockError``. It happens in production when an
agent's reply reaches one replica while the customer's next message reaches the other
(measured: 1 handoff message in 40 under load).

Here every read-modify-write of a conversation's lock is one Lua script, which Redis
runs atomically: no second key, no mutex to poll. (An earlier version guarded the update
with a redis-py mutex at ``lock:<id>:mutex``: that key *is* the lock of the conversation
named ``<id>:mutex``, so one conversation could block or corrupt another's lock, and the
mutex was polled with blocking sleeps on Rasa's event loop.) The only key is Rasa's own,
``<key_prefix><conversation id>``, holding exactly the JSON Rasa's ``TicketLock`` reads,
so ``get_lock`` and Rasa's waiting loop work unchanged.

Use it in ``endpoints.yml``: ``lock_store: {type: bot.lock_store.AtomicRedisLockStore,
url: ..., port: ..., db: ...}`` (the same settings as Rasa's ``type: redis``).
"""

from __future__ import annotations

import time
from typing import Any

from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

# KEYS[1]: the lock; ARGV[1]: now (the caller's clock, as Rasa's own expiry checks use);
# ARGV[2]: "issue" | "update" | "finish" | "cleanup"; ARGV[3]: lifetime or ticket number;
# ARGV[4]: the conversation id (stored inside the lock, as Rasa stores it).
# The lock is Rasa's TicketLock JSON: {"conversation_id": ..., "tickets": ["<ticket json>", ...]}.
_SCRIPT = """
local now = tonumber(ARGV[1])
local op = ARGV[2]
local raw = redis.call('GET', KEYS[1])
if not raw and op ~= 'issue' then return -1 end
local tickets = {}
local conversation = ARGV[4]
if raw then
  local lock = cjson.decode(raw)
  if type(lock.conversation_id) == 'string' then conversation = lock.conversation_id end
  for _, encoded in ipairs(lock.tickets or {}) do
    local ticket = cjson.decode(encoded)
    if tonumber(ticket.expires) >= now then table.insert(tickets, ticket) end
  end
end
local result = 0
if op == 'issue' then
  local number = 0
  if #tickets > 0 then number = tonumber(tickets[#tickets].number) + 1 end
  table.insert(tickets, {number = number, expires = now + tonumber(ARGV[3])})
  result = number
elseif op == 'finish' or op == 'cleanup' then
  local kept = {}
  for _, ticket in ipairs(tickets) do
    if tonumber(ticket.number) ~= tonumber(ARGV[3]) then table.insert(kept, ticket) end
  end
  tickets = kept
end
if op == 'cleanup' and #tickets == 0 then
  redis.call('DEL', KEYS[1])
  return result
end
local parts = {}
for _, ticket in ipairs(tickets) do
  local json = string.format('{"number": %d, "expires": %.6f}', ticket.number, ticket.expires)
  table.insert(parts, cjson.encode(json))
end
local body = '{"conversation_id": ' .. cjson.encode(conversation)
redis.call('SET', KEYS[1], body .. ', "tickets": [' .. table.concat(parts, ', ') .. ']}')
return result
"""


class AtomicRedisLockStore(RedisLockStore):
    """``RedisLockStore`` whose ticket updates are single atomic Lua scripts."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        if endpoint_config is not None:  # how Rasa builds a lock store named by module path
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)
        self._script = self.red.register_script(_SCRIPT)

    def _run(self, conversation_id: str, op: str, argument: float = 0) -> int:
        try:
            return int(
                self._script(
                    keys=[self.key_prefix + conversation_id],
                    args=[repr(time.time()), op, repr(argument), conversation_id],
                )
            )
        except Exception as exc:  # Redis down or the script refused: Rasa expects LockError
            message = f"Could not update the lock of conversation '{conversation_id}' in Redis: {exc}"
            raise LockError(message) from exc

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        return self._run(conversation_id, "issue", float(lock_lifetime))

    def update_lock(self, conversation_id: str) -> None:
        self._run(conversation_id, "update")

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._run(conversation_id, "finish", int(ticket_number))

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        # One script: between "nobody is waiting" and the delete, nobody can queue.
        self._run(conversation_id, "cleanup", int(ticket_number))
