"""Which folder a stage's training warm-starts from: the production student's, only when it is
that stage of that chain (an INT8 student's float parent), and only while its weights exist."""

from tests.support.models import new_model
from upscway.records import PRODUCTION
from upscway.storage import models as registry
from upscway.tasks.distill.chains import Stage
from upscway.tasks.distill.steps import warm_start_from

STAGE = Stage(name="s", kind="encoder", student="all-MiniLM-L6-v2", teacher={"annotations": "t"})


def test_the_production_student_of_the_stage_or_nothing(store, tmp_path):
    for name in ("float", "other"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.safetensors").write_bytes(b"weights")
    with store.transaction() as conn:
        assert warm_start_from(conn, "c", STAGE) is None  # nothing in production
        registry.register(conn, new_model("m1", path=str(tmp_path / "float")))
        registry.register(conn, new_model("m1-int8", path=str(tmp_path / "int8"), parent_id="m1"))
        registry.register(conn, new_model("m2", path=str(tmp_path / "other"), stage="t"))
        registry.register(conn, new_model("m3", path=str(tmp_path / "gone")))
        registry.move_alias(conn, PRODUCTION, "m1", "promote")
        assert warm_start_from(conn, "c", STAGE) == str(tmp_path / "float")
        assert warm_start_from(conn, "other-chain", STAGE) is None
        registry.move_alias(conn, PRODUCTION, "m1-int8", "promote")
        assert warm_start_from(conn, "c", STAGE) == str(tmp_path / "float")  # the INT8 student's float parent
        registry.move_alias(conn, PRODUCTION, "m2", "promote")
        assert warm_start_from(conn, "c", STAGE) is None  # another stage's weights would not fit
        registry.move_alias(conn, PRODUCTION, "m3", "promote")
        assert warm_start_from(conn, "c", STAGE) is None  # its folder is gone: start from the base
