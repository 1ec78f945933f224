"""GDFQ: the generator learns on a trained model; its network and the optional fine-tuning behave."""
import copy

import pytest
import torch

from challenge.errors import KitError
from synth.gdfq import GeneratorNet, finetune_quantized, train_generator


def test_loss_goes_down_on_a_trained_model(trained_resnet18):
    net, history = train_generator(trained_resnet18, num_classes=10, input_shape=(3, 32, 32),
                                   iterations=30, batch_size=8)
    assert history.shape == (30,) and torch.isfinite(history).all()
    assert history[-5:].mean() < 0.9 * history[:5].mean()
    assert not net.training


@pytest.mark.parametrize("label_embedding", [True, False])
def test_generator_net_makes_images_of_the_asked_shape(label_embedding):
    net = GeneratorNet(10, (3, 48, 64), label_embedding=label_embedding)
    images = net(torch.randn(4, 100), torch.tensor([0, 1, 2, 9]))
    assert images.shape == (4, 3, 48, 64)


def test_image_size_must_be_divisible_by_four():
    with pytest.raises(KitError, match="divisible by 4"):
        GeneratorNet(10, (3, 30, 32))


def test_finetune_quantized_trains_the_student_only(trained_resnet18):
    import torchvision

    torch.manual_seed(0)
    teacher = trained_resnet18
    net, _ = train_generator(teacher, num_classes=10, input_shape=(3, 32, 32), iterations=1, batch_size=4)
    student = torchvision.models.resnet18(num_classes=10).eval()  # stands in for a fake-quantized model
    before_student = copy.deepcopy(student.state_dict())
    before_teacher = copy.deepcopy(teacher.state_dict())
    before_net = copy.deepcopy(net.state_dict())

    history = finetune_quantized(student, teacher, net, num_classes=10, iterations=3, batch_size=4, lr=1e-2)

    assert history.shape == (3,) and torch.isfinite(history).all()
    assert any(not torch.equal(v, student.state_dict()[k]) for k, v in before_student.items())
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in before_teacher.items())
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before_net.items())
    assert not student.training and not teacher.training and not net.training
