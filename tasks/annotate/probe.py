"""An encoder student that is a linear probe (`head: probe` in a chain): a linear layer over the
frozen encoder's sentence vector (the mean of MiniLM's token vectors, L2-normalised, as the
embedding teacher and the prototype head read a chunk).

Only the layer is learnt (`upscway.tasks.distill.probe_fit`), to convergence, on every teacher
answer so far: with the encoder frozen a retrain embeds each chunk once and fits in seconds,
where fine-tuning the whole encoder for one epoch on CPU took minutes and left the student
unsure on most chunks. On the news stream with the recorded teacher a probe fitted on the
nights so far decides far more at ε = 0.02 than the fine-tuned prototype student
(docs/results/stream-benchmark.md).

The classes register with transformers' Auto classes when this module is imported, so a saved
probe loads with `AutoModelForSequenceClassification` like any other student.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, BertConfig
from transformers.modeling_outputs import SequenceClassifierOutput
from transformers.models.bert.modeling_bert import BertModel, BertPreTrainedModel

MODEL_TYPE = "upscway-probe"


class ProbeConfig(BertConfig):
    model_type = MODEL_TYPE


def sentence_vectors(bert: BertModel, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
    """Mean-pooled, L2-normalised token vectors: what sentence-transformers' MiniLM calls a
    sentence's embedding."""
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    hidden = bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1)


class ProbeClassifier(BertPreTrainedModel):
    config_class = ProbeConfig

    def __init__(self, config: ProbeConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, **_) -> SequenceClassifierOutput:
        return SequenceClassifierOutput(
            logits=self.classifier(sentence_vectors(self.bert, input_ids, attention_mask, token_type_ids))
        )


AutoConfig.register(MODEL_TYPE, ProbeConfig)
AutoModelForSequenceClassification.register(ProbeConfig, ProbeClassifier)


def probe_student(path: str, labels: list[str]) -> ProbeClassifier:
    """A probe over `labels` on the encoder in `path` (a BERT-style sentence encoder), its
    layer at zero (every label equally likely until fitted). A ValueError when the folder's
    weights do not fill the encoder."""
    base = AutoModel.from_pretrained(path)
    settings = {k: v for k, v in base.config.to_dict().items() if k not in ("model_type", "architectures")}
    config = ProbeConfig(
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
        **{k: v for k, v in settings.items() if k not in ("num_labels", "id2label", "label2id")},
    )
    model = ProbeClassifier(config)
    missing, _ = model.bert.load_state_dict(base.state_dict(), strict=False)
    if missing:
        raise ValueError(f"{path} lacks encoder weights a probe needs: {', '.join(sorted(missing))}")
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.zero_()
    return model
