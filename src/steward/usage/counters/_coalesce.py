"""Group commit for Redis script calls. One call is in flight at a time per process; calls made
meanwhile wait and then go together, in one pipeline (one round trip, one write, one read loop).
An idle gateway sends each call at once; a busy one sends fewer, larger batches, so the client's
per-call cost (connection checkout, timeouts, system calls) is shared. Each script still runs
atomically on its own in Redis: batching changes nothing about what a call does."""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

MAX_BATCH = 256

_Call = tuple[Any, list[str], list[str], "asyncio.Future[Any]"]  # script, keys, args, future


class Coalescer:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._queue: list[_Call] = []
        self._busy = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def call(self, script: Any, keys: list[str], args: list[str]) -> Any:
        """Run a registered script (an `AsyncScript`) with `keys` and `args`."""
        if not self._busy:
            self._busy = True
            try:
                return await script(keys=keys, args=args)
            finally:
                self._next()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((script, keys, args, future))
        return await future

    def _next(self) -> None:
        """Send what queued up meanwhile, or become idle."""
        if not self._queue:
            self._busy = False
            return
        batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        task = asyncio.create_task(self._send(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[_Call]) -> None:
        try:
            results = await self._pipeline(batch)
        except BaseException as exc:  # the connection failed: every caller learns it
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            for (*_, future), result in zip(batch, results, strict=True):
                if future.done():  # its caller went away
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
        finally:
            self._next()

    async def _pipeline(self, batch: list[_Call]) -> list[Any]:
        results = await self._execute(batch)
        missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:  # Redis restarted and forgot the scripts: load them, run those again
            for script in {id(batch[i][0]): batch[i][0] for i in missing}.values():
                await self._redis.script_load(script.script)
            again = await self._execute([batch[i] for i in missing])
            for i, result in zip(missing, again, strict=True):
                results[i] = result
        return results

    async def _execute(self, batch: list[_Call]) -> list[Any]:
        pipe = self._redis.pipeline(transaction=False)
        for script, keys, args, _ in batch:
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        return list(await pipe.execute(raise_on_error=False))

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()


__all__ = ["Coalescer"]
