import pytest

from upscway import settings as settings_module
from upscway.errors import InputError
from upscway.settings import IngestSettings, load_settings


def test_demo_is_the_default_profile():
    settings = load_settings()
    assert settings.profile == "demo"
    assert settings.ingest.fetcher == "snapshot"
    assert settings.ingest.allow_private_networks == ["127.0.0.1/32"]


def test_production_profile_forbids_private_addresses_and_uses_the_openai_teacher():
    settings = load_settings("production")
    assert settings.ingest.allow_private_networks == []
    assert settings.teacher.backend == "openai"


def test_environment_overrides_profile_with_nested_delimiter(monkeypatch):
    monkeypatch.setenv("UPSCWAY_TEACHER__BASE_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("UPSCWAY_INGEST__TIMEOUT_S", "3.5")
    monkeypatch.setenv("UPSCWAY_PROFILE", "production")
    settings = load_settings()
    assert settings.profile == "production"
    assert settings.teacher.base_url == "http://127.0.0.1:8000/v1"
    assert settings.ingest.timeout_s == 3.5
    assert (
        settings.ingest.batch_size == 100 and settings.ingest.fetch_concurrency == 8
    )  # still from the production profile


def test_explicit_arguments_win_over_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("UPSCWAY_PROFILE", "production")
    monkeypatch.setenv("UPSCWAY_DATA_DIR", "/somewhere/else")
    settings = load_settings("demo", tmp_path)
    assert settings.profile == "demo"
    assert settings.database_path == tmp_path / "upscway.duckdb"


def test_unknown_profile_names_the_known_ones():
    with pytest.raises(InputError, match="unknown profile 'nightly'.*demo, production"):
        load_settings("nightly")


def test_invalid_value_names_the_field(monkeypatch):
    monkeypatch.setenv("UPSCWAY_CHUNK__OVERLAP_TOKENS", "5000")
    with pytest.raises(InputError, match="chunk.overlap_tokens"):
        load_settings()
    monkeypatch.delenv("UPSCWAY_CHUNK__OVERLAP_TOKENS")
    monkeypatch.setenv("UPSCWAY_INGEST__ALLOW_PRIVATE_NETWORKS", '["not-a-network"]')
    with pytest.raises(InputError, match="allow_private_networks"):
        load_settings()


@pytest.mark.parametrize("cores, processes, workers", [(1, 0, 2), (2, 2, 4), (8, 8, 16)])
def test_ingest_scrapes_in_one_worker_process_per_core_when_there_are_several(monkeypatch, cores, processes, workers):
    monkeypatch.setattr(settings_module, "usable_cores", lambda: cores)
    ingest = IngestSettings()
    assert (ingest.processes, ingest.workers) == (processes, workers)
    assert IngestSettings(processes=0).workers == 2 and IngestSettings(workers=3).workers == 3


def test_the_task_file_has_its_own_section_and_the_old_teacher_setting_still_reads_with_a_warning(monkeypatch):
    assert str(load_settings().task.file) == "deployments/tasks/upsc_gs.yaml"
    monkeypatch.setenv("UPSCWAY_TASK__FILE", "tests/support/tasks/short_gs.yaml")
    assert str(load_settings().task.file) == "tests/support/tasks/short_gs.yaml"
    monkeypatch.delenv("UPSCWAY_TASK__FILE")
    monkeypatch.setenv("UPSCWAY_TEACHER__TASK_FILE", "tests/support/tasks/short_gs.yaml")
    with pytest.warns(FutureWarning, match=r"teacher.task_file .* is deprecated: use \[task\] file"):
        settings = load_settings()
    assert str(settings.task.file) == "tests/support/tasks/short_gs.yaml" and not hasattr(settings.teacher, "task_file")


def test_settings_the_certificate_replaced_still_load_with_a_warning_naming_what_replaced_them(monkeypatch):
    monkeypatch.setenv("UPSCWAY_GATE__MAX_GAP_TO_TEACHER", "0.1")
    monkeypatch.setenv("UPSCWAY_CASCADE__ACCURACY_TOLERANCE", "0.02")
    with pytest.warns(FutureWarning, match=r"gate.max_gap_to_teacher is no longer used .* cascade.max_loss"):
        settings = load_settings()
    assert (settings.cascade.max_loss, settings.cascade.risk_level) == (
        0.10,
        0.05,
    )  # the demo profile's ε, untouched by them
    monkeypatch.setenv("UPSCWAY_CASCADE__MAX_LOSS", "1.5")
    with pytest.raises(InputError, match="cascade.max_loss"):
        load_settings()


def test_the_trainers_knobs_are_one_object_taken_from_distill():
    distill = load_settings().distill
    training = distill.training()
    assert (training.learning_rate, training.epochs, training.save_steps) == (1e-3, 5, 40)  # the demo profile's
    assert set(type(training).model_fields) < set(type(distill).model_fields)


@pytest.mark.parametrize(
    "variable, value, named",
    [
        ("UPSCWAY_INGEST__TIMEOUT_S", "inf", "ingest.timeout_s: Input should be a finite number"),
        ("UPSCWAY_GATE__CONFIDENCE", "nan", "gate.confidence"),
        ("UPSCWAY_INGEST__MAX_BYTES", "-1", "ingest.max_bytes"),
        (
            "UPSCWAY_INGEST__ALLOW_PRIVATE_NETWORKS",
            "127.0.0.1/32",
            "UPSCWAY_INGEST__ALLOW_PRIVATE_NETWORKS",
        ),  # a list, not JSON
        ("UPSCWAY_CHUNK", "{broken", "UPSCWAY_CHUNK"),
        ("UPSCWAY_INGEST__TIMEOUTS", "3", "ingest.timeouts"),
        (
            "UPSCWAY_INGEST_TIMEOUT_S",
            "3",
            "unknown setting UPSCWAY_INGEST_TIMEOUT_S in the environment (did you mean UPSCWAY_INGEST__TIMEOUT_S?)",
        ),
    ],
)
def test_every_bad_value_or_name_in_the_environment_is_one_input_error_naming_it(monkeypatch, variable, value, named):
    monkeypatch.setenv(variable, value)
    with pytest.raises(InputError) as caught:
        load_settings()
    assert named in str(caught.value) and "default factory" not in str(caught.value)


def test_the_teachers_key_variables_are_not_unknown_settings(monkeypatch):
    monkeypatch.setenv("UPSCWAY_TEACHER_API_KEY", "sk-secret")
    monkeypatch.setenv("UPSCWAY_TEACHER__API_KEY_ENV", "UPSCWAY_OTHER_KEY")
    monkeypatch.setenv("UPSCWAY_OTHER_KEY", "sk-other")
    assert load_settings().teacher.api_key_env == "UPSCWAY_OTHER_KEY"
    monkeypatch.setenv("UPSCWAY_OTHER_KEY_TYPO", "sk-other")
    with pytest.raises(InputError, match="unknown setting UPSCWAY_OTHER_KEY_TYPO"):
        load_settings()


def test_a_writer_always_outwaits_the_longest_query_a_person_may_run(monkeypatch):
    monkeypatch.setenv("UPSCWAY_SQL__TIMEOUT_S", "100")
    with pytest.raises(
        InputError, match=r"storage.lock_timeout_s \(120\) must be at least sql.timeout_s \(100\) \+ 30 s"
    ):
        load_settings()
    monkeypatch.setenv("UPSCWAY_STORAGE__LOCK_TIMEOUT_S", "130")
    assert load_settings().storage.lock_timeout_s == 130


def test_the_students_languages_are_bare_codes_and_others_go_to_the_teacher_by_default(monkeypatch):
    cascade = load_settings().cascade
    assert cascade.student_languages == ("en",) and cascade.other_languages == "teacher"
    monkeypatch.setenv("UPSCWAY_CASCADE__STUDENT_LANGUAGES", '["en-IN", "EN", "hi_IN"]')
    monkeypatch.setenv("UPSCWAY_CASCADE__OTHER_LANGUAGES", "skip")
    cascade = load_settings().cascade
    assert cascade.student_languages == ("en", "hi") and cascade.other_languages == "skip"
    monkeypatch.setenv("UPSCWAY_CASCADE__OTHER_LANGUAGES", "student")
    with pytest.raises(InputError, match="cascade.other_languages"):
        load_settings()
