"""The scene sampler: every seed of an unconstrained stream gives a scene."""


def test_a_crowded_random_draw_is_drawn_again_not_an_error():
    # These seeds drew three objects too big to place apart; a training stream must never stop on them.
    from tessera.world.sampler import sample_scene

    for seed in (9861, 30318, 38659):
        scene = sample_scene(seed, "train", 64, 64, 9, 8.0)
        assert len(scene.objects) >= 1
        assert sample_scene(seed, "train", 64, 64, 9, 8.0) == scene  # still one fixed scene per seed
