from shebao.common.masking import (
    Masker,
    mask_account,
    mask_address,
    mask_data,
    mask_id_number,
    mask_phone,
    mask_text,
    sensitive_kind,
)


def test_id_number_mask():
    assert mask_id_number("33028219500101123X") == "330282********123X"


def test_account_mask_first_and_last_four():
    assert mask_account("6222021001115704287") == "6222***********4287"


def test_mobile_mask():
    assert mask_phone("13812341234") == "138****1234"


def test_masker_by_right():
    assert Masker(True).id_number("33028219500101123X") == "33028219500101123X"
    assert Masker(False).apply("account", "6222021001115704287") == "6222***********4287"


def test_address_mask_keeps_the_town_part():
    assert mask_address("浒山街道南门路 12 号 3 室") == "浒山街道南门****"
    assert mask_address("附海镇") == "附****"
    assert mask_address("") == ""


def test_sensitive_keys_by_name_and_suffix():
    assert [sensitive_kind(k) for k in ("legacy_account_number", "account_number", "id_number_original",
                                        "heir_id_number", "contact_phone", "mobile", "residence_address",
                                        "hukou_address", "bank", "amount", "template")] == [
        "account", "account", "id_number", "id_number", "phone", "phone", "address", "address", None, None, None]


def test_mask_data_nested_and_by_right():
    data = {"legacy_account_number": "6217001234567890123", "count": 3, "rows": [{"mobile": "13812341234"}],
            "person": {"id_number": "33028219500101123X", "name": "张三"}, "hukou_address": None}
    masked = mask_data(data, Masker(False))
    assert masked == {"legacy_account_number": "6217***********0123", "count": 3, "rows": [{"mobile": "138****1234"}],
                      "person": {"id_number": "330282********123X", "name": "张三"}, "hukou_address": None}
    assert mask_data(data, Masker(True)) is data


def test_mask_text_finds_numbers_in_free_text():
    text = "更正 33028219500101123X 的账号 6222021001115704287；批次 20260301001，金额 1234.56"
    assert mask_text(text, Masker(False)) == "更正 330282********123X 的账号 6222***********4287；批次 20260301001，金额 1234.56"
    assert mask_text(text, Masker(True)) == text
