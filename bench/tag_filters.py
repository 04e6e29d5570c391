"""What a listing filtered by many tags costs the database: one ``EXISTS`` per tag (the shape before
issue #15) against the one grouped lookup :mod:`glimpse.db.image_lists` builds now.

Creates a throw-away database, migrates it, fills it with images carrying random tags, and times
both statements for growing numbers of tags, each under a statement timeout (a statement past it is
reported as ">= timeout"). The new statement is the very one the server runs (``page_statement``).

    python bench/tag_filters.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
                                [--images 2000] [--tags 200,400,2000] [--timeout 60]

Figures are in ``docs/reliability.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import secrets
import time
import uuid

import sqlalchemy as sa

from glimpse.db.engine import Database
from glimpse.db.image_lists import ListScope, page_statement
from glimpse.db.migrate import upgrade
from glimpse.db.tables import image_tags, images
from glimpse.domain.queries import ImageQuery


def _fill(db: Database, count: int, vocabulary: int) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows, tags = [], []
    for i in range(count):
        image_id = str(uuid.uuid4())
        rows.append({"id": image_id, "name": f"image-{i}", "status": "active", "visibility": "public",
                     "owner": "bench", "protected": False, "os_hidden": False, "min_disk": 0, "min_ram": 0,
                     "created_at": now, "updated_at": now, "deleted": False, "revision": 1})
        tags += [{"image_id": image_id, "value": f"t{n}"} for n in random.sample(range(vocabulary), 8)]
    with db.write() as conn:
        conn.execute(images.insert(), rows)
        conn.execute(image_tags.insert(), tags)
    with db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")


def _per_tag_exists(tags: list[str]) -> sa.Select[tuple[str]]:
    """The statement shape before: one correlated EXISTS per tag."""
    return (sa.select(images.c.id).where(images.c.deleted.is_(False), *[
        sa.exists().where(image_tags.c.image_id == images.c.id, image_tags.c.value == tag) for tag in tags])
        .order_by(images.c.created_at.desc(), images.c.id.desc()).limit(25))


def _timed(db: Database, run: object, timeout: float) -> str:
    started = time.perf_counter()
    try:
        with db.read() as conn:
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout * 1000)}")
            run(conn)  # type: ignore[operator]
    except Exception as exc:  # the timeout, reported as a figure
        if "timeout" in str(exc).lower() or "canceling" in str(exc).lower():
            return f">= {timeout:.0f} s (cancelled)"
        raise
    return f"{time.perf_counter() - started:.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--tags", default="20,200,400,2000")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    name = f"glimpse_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(args.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    db = Database(sa.engine.make_url(args.url).set(database=name).render_as_string(hide_password=False))
    try:
        upgrade(db)
        _fill(db, args.images, vocabulary=args.images * 2)
        print(f"{args.images} images, 8 tags each; PostgreSQL; timeout {args.timeout:.0f} s")
        print(f"{'tags':>6}  {'one EXISTS per tag':>22}  {'one grouped lookup':>20}")
        for count in (int(n) for n in args.tags.split(",")):
            tags = [f"t{n}" for n in range(count)]
            before = _timed(db, lambda conn: conn.execute(_per_tag_exists(tags)).all(), args.timeout)
            page, values = page_statement(ImageQuery(limit=25, tags=tuple(tags)), ListScope(None, True), None)
            after = _timed(db, lambda conn: conn.execute(page.statement, values).all(), args.timeout)
            print(f"{count:>6}  {before:>22}  {after:>20}")
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


if __name__ == "__main__":
    main()
