import json

import pytest

from builder.dataset.curation_file import CurationDecisions
from schemas.errors import UsageError
from schemas.vocab import EMOTIONS


def write(tmp_path, document):
    path = tmp_path / "decisions.json"
    path.write_text(json.dumps(document))
    return path


def test_decisions_round_trip_through_the_file_format(tmp_path):
    decisions = CurationDecisions({"awe_00001": "blurry"}, {"fear_00002": ("sadness", "annotator error")})
    loaded = CurationDecisions.load(write(tmp_path, decisions.to_json()), EMOTIONS)
    assert (loaded.exclude, loaded.relabel) == (decisions.exclude, decisions.relabel)
    assert loaded.source == str(tmp_path / "decisions.json")


@pytest.mark.parametrize(("document", "message"), [
    ({"exclude": []}, "field 'format' must be 'emovit-curation/1'"),
    ({"format": "emovit-curation/1", "exclude": [{"reason": "x"}]}, "exclude[0]: field 'id' must be a non-empty"),
    ({"format": "emovit-curation/1", "relabel": [{"id": "a", "emotion": "joy"}]}, "relabel[0]: field 'emotion'"),
    ({"format": "emovit-curation/1", "exclude": [{"id": "a"}], "relabel": [{"id": "a", "emotion": "awe"}]},
     "relabel[0]: id 'a' is also excluded"),
])
def test_bad_decisions_files_name_the_file_and_field(tmp_path, document, message):
    path = write(tmp_path, document)
    with pytest.raises(UsageError) as error:
        CurationDecisions.load(path, EMOTIONS)
    assert str(error.value).startswith(str(path)) and message in str(error.value)
