"""Account forms: each an allow-list of fields."""

from __future__ import annotations

from wtforms import BooleanField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from ..forms import BaseForm
from ..i18n import lazy_gettext as _l


class SendCodeForm(BaseForm):
    phone = StringField(_l("手机号"), validators=[DataRequired(_l("请填写手机号。")), Length(max=20)])
    purpose = HiddenField(default="register")


class RegisterForm(BaseForm):
    phone = StringField(_l("手机号"), validators=[DataRequired(_l("请填写手机号。")), Length(max=20)])
    code = StringField(_l("短信验证码"), validators=[DataRequired(_l("请填写短信验证码。")), Length(max=10)])
    display_name = StringField(_l("昵称（选填）"), validators=[Length(max=20, message=_l("昵称不能超过 20 个字。"))])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请设置密码。")), Length(max=128)])
    confirm = PasswordField(_l("再次输入密码"), validators=[EqualTo("password", message=_l("两次输入的密码不一致。"))])
    # Consent to each document, ticked by the person (never ticked in advance), and the
    # version of the documents the page showed (accounts.service.TERMS_VERSION).
    accept_terms = BooleanField(_l("用户协议"), validators=[DataRequired(_l("请阅读并勾选同意《用户协议》。"))])
    accept_privacy = BooleanField(_l("隐私政策"), validators=[DataRequired(_l("请阅读并勾选同意《隐私政策》。"))])
    terms_version = HiddenField(validators=[Length(max=20)])


class LoginForm(BaseForm):
    phone = StringField(_l("手机号"), validators=[DataRequired(_l("请填写手机号。")), Length(max=20)])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请填写密码。")), Length(max=128)])
    remember = BooleanField(_l("30 天内自动登录"))
    # Shown only once the phone needs a captcha (see accounts.login_guard).
    captcha_id = HiddenField(validators=[Length(max=64, message=_l("验证码已过期，请换一张。"))])
    captcha_answer = StringField(_l("验证码"), validators=[Length(max=16, message=_l("验证码不正确或已过期，请换一张再试。"))])


class ResetForm(BaseForm):
    phone = StringField(_l("手机号"), validators=[DataRequired(_l("请填写手机号。")), Length(max=20)])
    code = StringField(_l("短信验证码"), validators=[DataRequired(_l("请填写短信验证码。")), Length(max=10)])
    password = PasswordField(_l("新密码"), validators=[DataRequired(_l("请设置新密码。")), Length(max=128)])
    confirm = PasswordField(_l("再次输入新密码"), validators=[EqualTo("password", message=_l("两次输入的密码不一致。"))])
