"""An encoder student shaped like the embedding teacher (`head: prototype` in a chain).

A chunk is the mean of MiniLM's token vectors, L2-normalised; each label has the vectors of its
description's phrases (the embedding teacher's `phrases`), and a label's logit is its best
phrase's cosine times a fixed scale. Built from the packaged MiniLM, the encoder is the
teacher's and the phrase vectors are the teacher's own, so before any training the student
*is* the zero-shot embedding teacher (same argmax on every chunk; softmax equal at scale
1 / the teacher's temperature); training then moves both the encoder and the phrase vectors
toward the teacher it is taught by. A linear head on the [CLS] pooler starts from chance and
must learn from a few hundred labels what this head starts knowing, which is why the
pruned and full-depth students with that head never earned a certificate on the news stream
(docs/results/stream-benchmark.md).

The classes register with transformers' Auto classes when this module is imported, so a
saved prototype student loads with `AutoModelForSequenceClassification` like any other.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, BertConfig
from transformers.modeling_outputs import SequenceClassifierOutput
from transformers.models.bert.modeling_bert import BertModel, BertPreTrainedModel

from upscway.tasks.annotate.embedding_teacher import DEFAULT_TEMPERATURE, Embedder, phrases
from upscway.taxonomy import TaskDefinition

MODEL_TYPE = "upscway-prototype"


class PrototypeConfig(BertConfig):
    """A BERT encoder's settings plus which label each phrase vector belongs to and the scale."""

    model_type = MODEL_TYPE

    def __init__(self, phrase_owner: list[int] | None = None, logit_scale: float = 1 / DEFAULT_TEMPERATURE, **kwargs):
        super().__init__(**kwargs)
        self.phrase_owner = list(phrase_owner or [])
        self.logit_scale = logit_scale


class PrototypeClassifier(BertPreTrainedModel):
    config_class = PrototypeConfig

    def __init__(self, config: PrototypeConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.prototypes = nn.Parameter(torch.zeros(len(config.phrase_owner), config.hidden_size))
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, **_) -> SequenceClassifierOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1)
        cosines = pooled @ nn.functional.normalize(self.prototypes, dim=-1).T
        owner = torch.tensor(self.config.phrase_owner, device=cosines.device)
        best = torch.stack([cosines[:, owner == i].max(dim=1).values for i in range(self.config.num_labels)], 1)
        return SequenceClassifierOutput(logits=best * self.config.logit_scale)


AutoConfig.register(MODEL_TYPE, PrototypeConfig)
AutoModelForSequenceClassification.register(PrototypeConfig, PrototypeClassifier)


def prototype_student(path: str, task: TaskDefinition) -> PrototypeClassifier:
    """A prototype student on the encoder in `path` (a BERT-style sentence encoder), its phrase
    vectors that encoder's embeddings of `task`'s label phrases. A ValueError when the folder's
    weights do not fill the encoder."""
    base = AutoModel.from_pretrained(path)
    groups = [phrases(label.description) for label in task.labels]
    settings = {k: v for k, v in base.config.to_dict().items() if k not in ("model_type", "architectures")}
    config = PrototypeConfig(
        phrase_owner=[i for i, group in enumerate(groups) for _ in group],
        num_labels=len(task.labels),
        id2label=dict(enumerate(task.names)),
        label2id={name: i for i, name in enumerate(task.names)},
        **{k: v for k, v in settings.items() if k not in ("num_labels", "id2label", "label2id")},
    )
    model = PrototypeClassifier(config)
    missing, _ = model.bert.load_state_dict(base.state_dict(), strict=False)
    if missing:
        raise ValueError(f"{path} lacks encoder weights a prototype student needs: {', '.join(sorted(missing))}")
    with torch.no_grad():
        model.prototypes.copy_(Embedder(path).embed([p for group in groups for p in group]))
    return model
