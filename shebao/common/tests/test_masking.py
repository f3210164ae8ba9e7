from shebao.common.masking import Masker, mask_account, mask_id_number, mask_phone


def test_id_number_mask():
    assert mask_id_number("33028219500101123X") == "330282********123X"


def test_account_mask_first_and_last_four():
    assert mask_account("6222021001115704287") == "6222***********4287"


def test_mobile_mask():
    assert mask_phone("13812341234") == "138****1234"


def test_masker_by_right():
    assert Masker(True).id_number("33028219500101123X") == "33028219500101123X"
    assert Masker(False).apply("account", "6222021001115704287") == "6222***********4287"
