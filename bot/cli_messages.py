"""The ``redraw`` command's own wording of the messages whose chat wording speaks of the
bot: its buttons, its commands, sending things again, "the bot's operator". At a
terminal the reader is the operator, with flags and environment variables to change.

Keys not listed here read the same in a chat and at a terminal (see :mod:`bot.messages`).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from bot.errors import RedrawError
from bot.messages import Locale, normalize_locale, render

CLI_MESSAGES: Mapping[str, Mapping[Locale, str]] = {
    # --- the prompt and the parameters --------------------------------------
    "prompt_empty": {
        "en": 'Say what to draw, e.g. redraw draw "a red fox in snow".',
        "zh": '请写出要画的内容，例如 redraw draw "雪地里的红狐狸"。',
    },
    "prompt_too_long": {
        "en": "The prompt is {length} characters; the limit is {limit}. Shorten it.",
        "zh": "提示词有 {length} 个字符，上限是 {limit}。请缩短。",
    },
    "n_not_supported": {
        "en": "This backend draws one image per call: use -n with --backend images, or run the command again.",
        "zh": "当前后端每次只生成一张图：-n 请配合 --backend images 使用，或再运行一次命令。",
    },
    # --- input images and the mask ------------------------------------------
    "too_many_images": {
        "en": "That is {count} input images; at most {limit} at once. Pass fewer -i images.",
        "zh": "一共 {count} 张输入图片，一次最多 {limit} 张。请减少 -i 图片。",
    },
    "image_empty": {
        "en": "Input image {index} is an empty file.",
        "zh": "第 {index} 张输入图片是空文件。",
    },
    "image_too_big": {
        "en": "Input image {index} is {size_mb} MB; the limit is {limit_mb} MB. Use a smaller file.",
        "zh": "第 {index} 张输入图片有 {size_mb} MB，上限是 {limit_mb} MB。请换一个更小的文件。",
    },
    "image_type_unsupported": {
        "en": "Input image {index} is of type {type}, which Redraw can't read. Use a PNG, JPEG, WebP, GIF or HEIC file.",
        "zh": "第 {index} 张输入图片的类型是 {type}，无法读取。请使用 PNG、JPEG、WebP、GIF 或 HEIC 文件。",
    },
    "image_unreadable": {
        "en": "Input image {index} isn't a picture Redraw can read. Use a PNG, JPEG, WebP, GIF or HEIC file.",
        "zh": "无法读取第 {index} 张输入图片。请使用 PNG、JPEG、WebP、GIF 或 HEIC 文件。",
    },
    "image_too_many_pixels": {
        "en": "Input image {index} has {megapixels} megapixels; at most {limit} are taken. Scale it down.",
        "zh": "第 {index} 张输入图片有 {megapixels} 百万像素，最多只能处理 {limit} 百万像素。请缩小后再用。",
    },
    "mask_not_supported": {
        "en": "The chat backend takes no mask: use --backend images or responses, or describe the area in the prompt.",
        "zh": "chat 后端不支持蒙版：请使用 --backend images 或 responses，或在提示词里描述要改的区域。",
    },
    "mask_without_image": {
        "en": "--mask needs the image it applies to: pass that image with -i.",
        "zh": "--mask 需要配合它所对应的图片：请用 -i 指定该图片。",
    },
    "mask_no_alpha": {
        "en": "The mask needs transparency: erase the areas to change and save it as a PNG with alpha.",
        "zh": "蒙版需要透明通道：擦除要修改的区域，并保存为带透明度的 PNG。",
    },
    # --- the provider ---------------------------------------------------------
    "upstream_auth": {
        "en": "The provider rejected the API key: check OPENAI_API_KEY (and OPENAI_BASE_URL).",
        "zh": "服务商拒绝了 API 密钥：请检查 OPENAI_API_KEY（以及 OPENAI_BASE_URL）。",
    },
    "insufficient_balance": {
        "en": "The provider account is out of credit: top it up, or use another key.",
        "zh": "服务商账户余额不足：请充值，或换一个密钥。",
    },
    "model_unavailable": {
        "en": "The image model isn't available from this provider right now: try again later, "
        "or set REDRAW_IMAGE_MODEL (or REDRAW_FALLBACK_MODELS) to another model.",
        "zh": "该服务商暂时无法提供此图像模型：请稍后再试，或把 REDRAW_IMAGE_MODEL（或 REDRAW_FALLBACK_MODELS）设为其他模型。",
    },
    "upstream_not_found": {
        "en": "The provider URL answered 404 Not Found: check OPENAI_BASE_URL (most providers want it to end in /v1).",
        "zh": "服务商地址返回 404 Not Found：请检查 OPENAI_BASE_URL（大多数服务商要求以 /v1 结尾）。",
    },
    "link_refused": {
        "en": "The provider answered with a picture link that was not fetched (not a safe address, or not an image). Try again; if it keeps happening, check the provider or proxy at OPENAI_BASE_URL (REDRAW_FETCH_PRIVATE_LINKS admits a proxy on a private network).",
        "zh": "服务商返回的图片链接没有被下载（地址不安全或不是图片）。请重试；如果一直这样，请检查 OPENAI_BASE_URL 指向的服务商或代理（私有网络上的代理可用 REDRAW_FETCH_PRIVATE_LINKS 放行）。",
    },
    "image_queue_full": {
        "en": "{limit} requests with pictures are already being prepared. Wait for them, then run the command again.",
        "zh": "已有 {limit} 个带图片的请求正在处理。请等它们完成后再运行命令。",
    },
    "upstream_timeout": {
        "en": "The image took longer than REDRAW_READ_TIMEOUT and was abandoned. Try again, perhaps with a lower --quality or --size.",
        "zh": "生成时间超过 REDRAW_READ_TIMEOUT，已放弃。请重试，或降低 --quality 或 --size。",
    },
    "state_expired": {
        "en": "The provider no longer knows the earlier image. Pass it again with -i.",
        "zh": "服务商已找不到之前的图片。请用 -i 重新指定它。",
    },
}


def render_cli(key: str, locale: str | None = None, **params: Any) -> str:
    """``key``'s terminal wording, or its chat wording when that reads the same."""
    texts = CLI_MESSAGES.get(key)
    if texts is None:
        return render(key, locale, **params)
    template = texts[normalize_locale(locale)]
    names = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    return template.format(**{name: params.get(name, "") for name in names})


def render_cli_error(error: RedrawError, locale: str | None = None) -> str:
    return render_cli(error.message_key, locale, **error.params)
