"""After os.fork() (multiprocessing, DataLoader workers, gunicorn preload) cleo works
in the child, with an inherited client and with a new one, and never hangs."""

import multiprocessing
import os

import cleo


def _child(client, ref, q):
    try:
        inherited = client.get(ref).expose()
        client.invalidate(ref)  # force a network read through the inherited client
        inherited_fresh = client.get(ref).expose()
        own = cleo.Client().get(ref).expose()
        module_level = cleo.get(ref).expose()
        q.put(("ok", inherited, inherited_fresh, own, module_level))
    except BaseException as e:  # report, never hang
        q.put(("error", repr(e)))


def test_a_forked_child_can_use_cleo(seeded):
    ref, value = seeded
    client = cleo.Client()
    # Use everything in the parent first: runtime threads, connections, cache.
    assert client.get(ref).expose() == value
    client.invalidate(ref)
    assert client.get(ref).expose() == value
    assert cleo.get(ref).expose() == value

    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(client, ref, q))
    p.start()
    p.join(timeout=60)
    hung = p.is_alive()
    if hung:
        p.kill()
    assert not hung, "the child hung"
    result = q.get(timeout=5)
    assert result == ("ok", value, value, value, value), result
    # The parent still works after the child is gone.
    client.invalidate(ref)
    assert client.get(ref).expose() == value


def test_many_forks_in_a_row(seeded):
    ref, value = seeded
    client = cleo.Client()
    client.get(ref)
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            try:
                client.invalidate(ref)
                ok = client.get(ref).expose() == value
            except BaseException:
                ok = False
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
