"""Fill the zh-Hans catalogue from ZH below and compile it (run after `makemessages`).

python tools/translate_zh.py   # writes django.po (sorted, complete) and django.mo
"""

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

PO = Path(__file__).resolve().parents[1] / "src/fangkong/locale/zh_Hans/LC_MESSAGES/django.po"

ZH = {
    "Accounts and audit": "账户与审计",
    "role": "角色",
    "jurisdiction": "辖区",
    "The subtree this account may see and act in.": "该账户可查看和操作的辖区范围。",
    "For residents: their own record, the only one they may see.": "居民账户：本人档案，也是其唯一可查看的档案。",
    "command headquarters": "指挥部",
    "epidemiological tracer": "流调人员",
    "laboratory technician": "检测实验室人员",
    "quarantine site staff": "隔离点工作人员",
    "grid worker": "网格员",
    "supplies officer": "物资保障人员",
    "venue operator": "场所管理人员",
    "resident": "居民",
    "auditor": "审计员",
    "account administrator": "账户管理员",
    "Jurisdictions": "辖区",
    "province": "省",
    "city": "市",
    "county": "县（区）",
    "township": "乡镇（街道）",
    "community/village": "社区（村）",
    "grid": "网格",
    "code": "代码",
    "name": "名称",
    "level": "层级",
    "jurisdictions": "辖区",
    "The address is longer than 200 characters.": "详细地址超过200个字符。",
    "Unknown document type %(value)s.": "未知的证件类型 %(value)s。",
    "Give the nationality as a 3-letter ISO 3166 code (e.g. USA).": "请填写3位字母的ISO 3166国籍代码（如 USA）。",
    "The name is empty.": "姓名为空。",
    "The name is longer than 64 characters.": "姓名超过64个字符。",
    "The address jurisdiction code is empty.": "现住址辖区编码为空。",
    "Unknown jurisdiction code %(code)s.": "辖区编码 %(code)s 不存在。",
    "Jurisdiction %(code)s is outside your jurisdiction.": "辖区 %(code)s 不在您的管辖范围内。",
    "The row has fewer columns than the header: the file may be truncated.": "该行列数少于表头：文件可能不完整。",
    "The same document appears in row %(row)s.": "与第 %(row)s 行证件重复。",
    "This person is registered in another jurisdiction; ask them to transfer.": "此人已在其他辖区登记，请联系该辖区办理转移。",
    "People": "人员",
    "The header row lacks the column(s): %(columns)s.": "表头缺少列：%(columns)s。",
    "The file is neither UTF-8 nor GBK text.": "文件既不是 UTF-8 也不是 GBK 编码的文本。",
    "The file is empty.": "文件为空。",
    "The Excel file is damaged or truncated.": "Excel 文件已损坏或不完整。",
    "Upload a .csv or .xlsx file.": "请上传 .csv 或 .xlsx 文件。",
    "The identity number is empty.": "身份证号码为空。",
    "15-digit first-generation identity numbers are no longer valid; enter the 18-character number.": "15位第一代身份证号码已停止使用，请填写18位号码。",
    "The identity number has %(length)s characters; it must have 18.": "身份证号码为 %(length)s 位，应为18位。",
    "The identity number must be 17 digits followed by a digit or X.": "身份证号码应为17位数字加1位数字或X。",
    "The check character is %(got)s but should be %(expected)s: a digit was mistyped.": "校验码为 %(got)s，应为 %(expected)s：有数字输入错误。",
    "The birth date %(value)s in the identity number does not exist.": "身份证号码中的出生日期 %(value)s 不存在。",
    "The birth date %(value)s in the identity number is impossible.": "身份证号码中的出生日期 %(value)s 不合理。",
    "The document number is empty.": "证件号码为空。",
    "This is not a valid document number for that document type.": "证件号码与证件类型格式不符。",
    "The mobile number is empty.": "手机号码为空。",
    "%(value)s is not a valid mobile number (11 digits starting with 1, or +country code).": "%(value)s 不是有效的手机号码（以1开头的11位数字，或+国家代码）。",
    "resident identity card": "居民身份证",
    "passport": "护照",
    "Hong Kong/Macao permit": "港澳居民来往内地通行证",
    "Taiwan permit": "台湾居民来往大陆通行证",
    "foreigner permanent residence card": "外国人永久居留身份证",
    "other document": "其他证件",
    "male": "男",
    "female": "女",
    "unknown": "未知",
    "document type": "证件类型",
    "document number": "证件号码",
    "nationality": "国籍",
    "sex": "性别",
    "birth date": "出生日期",
    "mobile phone": "手机号码",
    "current address": "现住址",
    "address detail": "详细地址",
    "person": "人员",
    "people": "人员",
    "Say why you need the full identifiers.": "请说明查看完整证件号码和手机号码的理由。",
    "Person registered.": "人员已登记。",
    "This document is already registered.": "该证件已登记。",
    "Audit log": "审计日志",
    "Verify the whole chain": "校验完整审计链",
    "The chain is intact: %(n)s entries checked.": "审计链完整：已校验 %(n)s 条记录。",
    "The chain is broken:": "审计链被破坏：",
    "Time": "时间",
    "Who": "操作人",
    "Action": "操作",
    "Object": "对象",
    "Reason": "理由",
    "No entries.": "暂无记录。",
    "Older entries": "更早的记录",
    "Fangkong": "防控",
    "Epidemic prevention and control platform": "疫情防控一体化平台",
    "Log out": "退出",
    "Language": "语言",
    "People living here": "在此居住的人员",
    "Code": "编码",
    "Name": "姓名",
    "Level": "层级",
    "No subdivisions.": "无下级辖区。",
    "Document": "证件",
    "Sex": "性别",
    "Birth date": "出生日期",
    "Mobile phone": "手机号码",
    "Current address": "现住址",
    "Reason for viewing the full ID and mobile numbers (recorded in the audit log)": "查看完整证件号码和手机号码的理由（记入审计日志）",
    "Show full identifiers": "显示完整信息",
    "Import a list": "导入名单",
    "Import a list of people": "导入人员名单",
    "CSV (UTF-8 or GBK) or Excel .xlsx with a header row: 证件类型, 证件号码, 国籍, 姓名, 手机号码, 现住址编码, 详细地址.": "CSV（UTF-8 或 GBK 编码）或 Excel .xlsx 文件，首行为表头：证件类型、证件号码、国籍、姓名、手机号码、现住址编码、详细地址。",
    "Import the good rows even if some rows are wrong": "部分行有误时仍导入正确的行",
    "Import": "导入",
    "%(rows)s rows read: %(created)s people added, %(updated)s updated, %(unchanged)s unchanged.": "共读取 %(rows)s 行：新增 %(created)s 人，更新 %(updated)s 人，%(unchanged)s 人无变化。",
    ("%(n)s row was not imported:", "%(n)s rows were not imported:"): ("%(n)s 行未导入：",),
    (
        "Nothing was imported: %(n)s row has problems. Fix it and upload the file again, or choose to import the good rows.",
        "Nothing was imported: %(n)s rows have problems. Fix them and upload the file again, or choose to import the good rows.",
    ): ("未导入任何数据：%(n)s 行有问题。请修改后重新上传，或选择仅导入正确的行。",),
    "Row": "行",
    "Column": "列",
    "Problem": "问题",
    "Find a person by ID number, mobile number or name": "按证件号码、手机号码或姓名查找人员",
    "ID number / mobile / name": "证件号码 / 手机号码 / 姓名",
    "Search": "查询",
    "Register a person": "登记人员",
    "Document number": "证件号码",
    "Nobody found.": "未找到人员。",
    "Next page": "下一页",
    "Document type": "证件类型",
    "Nationality (for foreign documents)": "国籍（境外证件填写）",
    "Current address (jurisdiction code)": "现住址（辖区编码）",
    "Address detail": "详细地址",
    "Register": "登记",
    "Role": "角色",
    "Jurisdiction": "辖区",
    "Log in": "登录",
    "Wrong user name or password.": "用户名或密码错误。",
    "User name": "用户名",
    "Password": "密码",
}


def main() -> None:
    with PO.open("rb") as handle:
        catalog = read_po(handle, locale="zh_Hans")
    missing = []
    for message in catalog:
        if not message.id:
            continue
        text = ZH.get(message.id)
        if text is None:
            missing.append(message.id)
            continue
        message.string = text
        message.flags.discard("fuzzy")
    with PO.open("wb") as handle:
        write_po(handle, catalog, width=100, omit_header=False)
    with PO.with_suffix(".mo").open("wb") as handle:
        write_mo(handle, catalog)
    if missing:
        raise SystemExit("untranslated:\n" + "\n".join(map(str, missing)))


if __name__ == "__main__":
    main()
