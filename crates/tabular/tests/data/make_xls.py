"""Writes contacts.xls, the .xls (BIFF8) fixture for guanxi-tabular's tests.

Needs xlwt (pip install xlwt), a real .xls writer. Run from this folder:
    python3 make_xls.py
"""
import datetime

import xlwt

wb = xlwt.Workbook(encoding="utf-8")
ws = wb.add_sheet("联系人")
date = xlwt.easyxf(num_format_str="YYYY-MM-DD")
datetime_fmt = xlwt.easyxf(num_format_str="YYYY-MM-DD HH:MM")

for c, h in enumerate(["姓名", "手机", "金额", "签约日期", "最后联系", "VIP", "备注"]):
    ws.write(0, c, h)
ws.write(1, 0, "张三")
ws.write(1, 1, 13800138000)  # a phone number stored as a number
ws.write(1, 2, 12.5)
ws.write(1, 3, datetime.date(2024, 3, 5), date)
ws.write(1, 4, datetime.datetime(2024, 3, 5, 14, 30), datetime_fmt)
ws.write(1, 5, True)
ws.write(1, 6, "北京，老客户")
# row 3 (index 2) left blank on purpose
ws.write(3, 0, "  李四  ")
ws.write(3, 1, 13912345678)
ws.write(3, 2, 100)
ws.write(3, 5, False)

other = wb.add_sheet("其他")
other.write(0, 0, "产品名称")
other.write(1, 0, "茶叶")

wb.save("contacts.xls")
