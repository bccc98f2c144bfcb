"""User-facing texts by message key, in English and Chinese.

Each text says what went wrong and what to do next. Adapters call :func:`render`
with the user's locale; an unknown locale falls back to English.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from bot.errors import RedrawError

Locale = str

MESSAGES: Mapping[str, Mapping[Locale, str]] = {
    # --- generic -------------------------------------------------------------
    "internal_error": {
        "en": "Something went wrong on our side. Please try again in a moment.",
        "zh": "我们这边出了点问题，请稍后再试。",
    },
    "invalid_input": {
        "en": "That request can't be drawn as it is. Please check it and send it again.",
        "zh": "这个请求无法直接绘制，请检查后重新发送。",
    },
    # --- the prompt ----------------------------------------------------------
    "prompt_empty": {
        "en": "Tell me what to draw: add a description after the command, e.g. /draw a red fox in snow.",
        "zh": "请告诉我要画什么：在命令后面加上描述，例如 /draw 雪地里的红狐狸。",
    },
    "prompt_too_long": {
        "en": "Your description is {length} characters; the limit is {limit}. Please shorten it and send it again.",
        "zh": "你的描述有 {length} 个字符，上限是 {limit}。请缩短后重新发送。",
    },
    # --- parameters ----------------------------------------------------------
    "size_invalid": {
        "en": "“{size}” is not a size. Use WIDTHxHEIGHT (e.g. 1536x1024) or auto.",
        "zh": "“{size}” 不是有效的尺寸。请使用 宽x高（例如 1536x1024）或 auto。",
    },
    "size_not_multiple_of_16": {
        "en": "Width and height must both be multiples of 16; {size} is not. Try {suggestion}.",
        "zh": "宽和高都必须是 16 的倍数，{size} 不符合。可以试试 {suggestion}。",
    },
    "size_side_too_long": {
        "en": "The longest side may be at most {limit} pixels; {size} is larger. Try {suggestion}.",
        "zh": "最长边不能超过 {limit} 像素，{size} 超出了。可以试试 {suggestion}。",
    },
    "size_ratio_too_wide": {
        "en": "The aspect ratio may be at most 3:1; {size} is wider than that. Try {suggestion}.",
        "zh": "宽高比不能超过 3:1，{size} 超出了。可以试试 {suggestion}。",
    },
    "size_too_few_pixels": {
        "en": "{size} is too small: the image needs at least {limit} pixels in total. Try {suggestion}.",
        "zh": "{size} 太小：总像素至少需要 {limit}。可以试试 {suggestion}。",
    },
    "size_too_many_pixels": {
        "en": "{size} is too large: at most {limit} pixels in total (3840x2160). Try {suggestion}.",
        "zh": "{size} 太大：总像素最多 {limit}（3840x2160）。可以试试 {suggestion}。",
    },
    "size_not_supported": {
        "en": "{model} can't draw {size}. Choose one of: {allowed}.",
        "zh": "{model} 不支持 {size}。请从以下尺寸中选择：{allowed}。",
    },
    "quality_invalid": {
        "en": "Quality must be one of auto, low, medium, high (got “{value}”).",
        "zh": "质量必须是 auto、low、medium、high 之一（收到 “{value}”）。",
    },
    "output_format_invalid": {
        "en": "The format must be png, jpeg or webp (got “{value}”).",
        "zh": "格式必须是 png、jpeg 或 webp（收到 “{value}”）。",
    },
    "compression_invalid": {
        "en": "Compression must be a whole number from 1 to 100 (got “{value}”).",
        "zh": "压缩率必须是 1 到 100 之间的整数（收到 “{value}”）。",
    },
    "compression_needs_lossy": {
        "en": "Compression only applies to jpeg and webp. Switch the format, or leave compression unset for png.",
        "zh": "压缩率只适用于 jpeg 和 webp。请切换格式，或在 png 下不设置压缩率。",
    },
    "moderation_invalid": {
        "en": "Moderation must be auto or low (got “{value}”).",
        "zh": "审核级别必须是 auto 或 low（收到 “{value}”）。",
    },
    "n_invalid": {
        "en": "The number of images must be from 1 to {limit} (got {value}).",
        "zh": "图片数量必须在 1 到 {limit} 之间（收到 {value}）。",
    },
    "n_not_supported": {
        "en": "This backend draws one image per request. Use the Variations button for more.",
        "zh": "当前后端每次只生成一张图。需要更多请使用“变体”按钮。",
    },
    "background_invalid": {
        "en": "The background must be auto, opaque or transparent (got “{value}”).",
        "zh": "背景必须是 auto、opaque 或 transparent（收到 “{value}”）。",
    },
    "background_transparent_unsupported": {
        "en": "{model} can't make transparent backgrounds. Choose another model, or an opaque background.",
        "zh": "{model} 不支持透明背景。请换一个模型，或使用不透明背景。",
    },
    "background_transparent_format": {
        "en": "A transparent background needs png or webp output, not {format}.",
        "zh": "透明背景需要 png 或 webp 格式，不能是 {format}。",
    },
    "input_fidelity_unsupported": {
        "en": "{model} doesn't take an input-fidelity setting. Leave it unset.",
        "zh": "{model} 不支持输入保真度设置，请不要设置。",
    },
    "input_fidelity_invalid": {
        "en": "Input fidelity must be low or high (got “{value}”).",
        "zh": "输入保真度必须是 low 或 high（收到 “{value}”）。",
    },
    # --- images --------------------------------------------------------------
    "too_many_images": {
        "en": "That is {count} images; I can use at most {limit} at once. Send fewer and try again.",
        "zh": "一共 {count} 张图片，一次最多只能用 {limit} 张。请减少后重试。",
    },
    "image_empty": {
        "en": "Image {index} is empty. Please send it again.",
        "zh": "第 {index} 张图片是空的，请重新发送。",
    },
    "image_too_big": {
        "en": "Image {index} is {size_mb} MB; the limit is {limit_mb} MB. Send a smaller file.",
        "zh": "第 {index} 张图片有 {size_mb} MB，上限是 {limit_mb} MB。请发送更小的文件。",
    },
    "image_unreadable": {
        "en": "Image {index} isn't a picture I can read. Send a PNG, JPEG, WebP, GIF or HEIC image.",
        "zh": "无法读取第 {index} 张图片。请发送 PNG、JPEG、WebP、GIF 或 HEIC 图片。",
    },
    "image_type_unsupported": {
        "en": "Image {index} is of type {type}, which I can't read. Send a PNG, JPEG, WebP, GIF or HEIC image.",
        "zh": "第 {index} 张图片的类型是 {type}，我无法读取。请发送 PNG、JPEG、WebP、GIF 或 HEIC 图片。",
    },
    "image_too_many_pixels": {
        "en": "Image {index} has {megapixels} megapixels; I can take at most {limit}. Send a smaller image.",
        "zh": "第 {index} 张图片有 {megapixels} 百万像素，最多只能处理 {limit} 百万像素。请发送更小的图片。",
    },
    "image_queue_full": {
        "en": "You already have {limit} requests with pictures being prepared. Wait for them to finish, then send this one again.",
        "zh": "你已有 {limit} 个带图片的请求正在处理。请等它们完成后再发送这一条。",
    },
    "parent_image_missing": {
        "en": "That earlier image is no longer stored, so I can't edit it. Send it again as a photo to keep working on it.",
        "zh": "之前的那张图片已不再保存，无法继续编辑。请把它作为照片重新发送以继续修改。",
    },
    "mask_not_supported": {
        "en": "This image model can't take a mask. Describe the area to change in words instead.",
        "zh": "当前图像模型不支持蒙版。请改用文字描述要修改的区域。",
    },
    "mask_without_image": {
        "en": "A mask needs an image to apply to. Send the image together with the mask.",
        "zh": "蒙版需要配合一张图片使用。请把图片和蒙版一起发送。",
    },
    "mask_not_png": {
        "en": "The mask must be a PNG file (got {format}).",
        "zh": "蒙版必须是 PNG 文件（收到 {format}）。",
    },
    "mask_too_big": {
        "en": "The mask is {size_mb} MB; it must be under {limit_mb} MB.",
        "zh": "蒙版有 {size_mb} MB，必须小于 {limit_mb} MB。",
    },
    "mask_no_alpha": {
        "en": "The mask needs transparency: erase the areas to change, save as PNG with alpha, and send it again.",
        "zh": "蒙版需要透明通道：擦除要修改的区域，保存为带透明度的 PNG 后重新发送。",
    },
    "mask_no_transparent_area": {
        "en": "The mask has no fully transparent area, so nothing would change. Erase the part to edit.",
        "zh": "蒙版上没有完全透明的区域，因此不会有任何改动。请擦除要编辑的部分。",
    },
    "mask_size_mismatch": {
        "en": "The mask is {mask_size} but the image is {image_size}. They must be the same size.",
        "zh": "蒙版是 {mask_size}，而图片是 {image_size}，两者尺寸必须一致。",
    },
    # --- the conversation ----------------------------------------------------
    "not_allowed": {
        "en": "This bot isn't open to you here. Ask the bot's operator to let you in.",
        "zh": "你在这里无法使用这个机器人。请联系机器人管理员开通。",
    },
    "queued": {
        "en": "⏳ Busy right now: you are number {position} in line. I'll start as soon as a slot frees up.",
        "zh": "⏳ 当前繁忙：你排在第 {position} 位。一有空位就开始。",
    },
    "budget_user": {
        "en": "You have used ${spent} of your ${limit} daily budget and this needs about ${cost}. It resets at {reset} UTC.",
        "zh": "你今天已用 ${spent}，每日预算为 ${limit}，本次约需 ${cost}。预算将于 UTC {reset} 重置。",
    },
    "budget_chat": {
        "en": "This chat has used ${spent} of its ${limit} monthly budget and this needs about ${cost}. It resets on {reset} UTC.",
        "zh": "本群本月已用 ${spent}，每月预算为 ${limit}，本次约需 ${cost}。预算将于 UTC {reset} 重置。",
    },
    "progress": {
        "en": "🎨 Drawing… {elapsed}",
        "zh": "🎨 正在绘制… {elapsed}",
    },
    "cancelled": {
        "en": "✖ Cancelled. Nothing was charged for it.",
        "zh": "✖ 已取消，本次不收费。",
    },
    "nothing_to_cancel": {
        "en": "Nothing of yours is being drawn here.",
        "zh": "这里没有你正在进行的绘制。",
    },
    "cancel_not_yours": {
        "en": "Only the person who asked for this picture (or a chat admin) can cancel it.",
        "zh": "只有发起这张图片的人（或群管理员）可以取消。",
    },
    "interrupted": {
        "en": "⚠️ The bot restarted while drawing “{prompt}”. Press Retry to draw it again.",
        "zh": "⚠️ 绘制“{prompt}”时机器人重启了。点击“重试”重新绘制。",
    },
    "delivery_failed": {
        "en": "Your picture is ready, but I couldn't send it here. Press Retry to send it again: it won't be drawn or charged again.",
        "zh": "图片已经画好，但发送失败。点击“重试”重新发送：不会重画，也不会再次收费。",
    },
    "retry_not_possible": {
        "en": "That request can't be retried any more. Send it again, please.",
        "zh": "该请求已无法重试，请重新发送。",
    },
    "already_drawing": {
        "en": "⏳ I'm already drawing that for you: one press is enough.",
        "zh": "⏳ 已经在为你绘制了，按一次就够。",
    },
    "button_other_chat": {
        "en": "That button belongs to a picture in another chat. Send your request here instead.",
        "zh": "这个按钮属于另一个聊天中的图片。请在这里重新发送你的请求。",
    },
    "reply_picture_unknown": {
        "en": "I can't find the picture you replied to. Reply to its newest copy, or send your request again.",
        "zh": "找不到你回复的那张图片。请回复它最新的一份，或者重新发送请求。",
    },
    "reception_lost": {
        "en": "⚠️ The bot restarted before it could read your message. Please send it again.",
        "zh": "⚠️ 机器人在读取你的消息之前重启了。请重新发送。",
    },
    "variations_partial": {
        "en": "⚠️ {failed} of {total} could not be drawn: {reason} Only the ones shown were charged.",
        "zh": "⚠️ {total} 张中有 {failed} 张没能画出：{reason} 只对显示出来的收费。",
    },
    "help_admin": {
        "en": "\n\nFor bot admins: /block <user id> (or reply to their message with /block) stops someone using the bot; /unblock <user id> lets them back.",
        "zh": "\n\n机器人管理员：/block <用户 id>（或回复其消息并发送 /block）禁止某人使用机器人；/unblock <用户 id> 解除禁止。",
    },
    "block_usage": {
        "en": "Say whom: /{command} <user id>, or reply to their message with /{command}.",
        "zh": "请指明对象：/{command} <用户 id>，或回复其消息并发送 /{command}。",
    },
    "blocked_user": {
        "en": "🚫 User {user} can no longer use the bot. /unblock {user} lets them back.",
        "zh": "🚫 用户 {user} 已被禁止使用机器人。/unblock {user} 可解除。",
    },
    "unblocked_user": {
        "en": "✅ User {user} can use the bot again.",
        "zh": "✅ 用户 {user} 可以再次使用机器人。",
    },
    "block_admin": {
        "en": "Bot admins can't be blocked.",
        "zh": "机器人管理员不能被禁止。",
    },
    "admins_only": {
        "en": "Only the bot's admins can do that.",
        "zh": "只有机器人管理员可以这样做。",
    },
    "new_conversation": {
        "en": "🆕 New conversation: your next message starts a fresh picture.",
        "zh": "🆕 新对话：你的下一条消息将开始一张新图片。",
    },
    "usage": {
        "en": "Your usage: today {today_images} images (${today_cost}), this month {month_images} images (${month_cost}). This chat this month: {chat_images} images (${chat_cost}).",
        "zh": "你的用量：今天 {today_images} 张（${today_cost}），本月 {month_images} 张（${month_cost}）。本群本月：{chat_images} 张（${chat_cost}）。",
    },
    "history_needs_reply": {
        "en": "There is no picture here yet. Reply to one of my images with /history to see how it was made.",
        "zh": "这里还没有图片。请用 /history 回复我的某张图片，查看它的创作过程。",
    },
    "history": {
        "en": "How this image was made ({count} steps):\n{lines}",
        "zh": "这张图片的创作过程（共 {count} 步）：\n{lines}",
    },
    "undo_nothing": {
        "en": "This is the first version: there is nothing to go back to.",
        "zh": "这已经是第一个版本，无法再撤销。",
    },
    "undo_done": {
        "en": "↩️ Back to the previous version. Reply to it to keep editing from there.",
        "zh": "↩️ 已回到上一个版本。回复它即可从那里继续编辑。",
    },
    "turn_missing": {
        "en": "I can't find that picture any more. Send your request again, please.",
        "zh": "找不到那张图片了，请重新发送请求。",
    },
    "settings_admin_only": {
        "en": "Only this chat's admins can change its settings.",
        "zh": "只有本群管理员可以修改设置。",
    },
    "settings_admin_only_discord": {
        "en": "Only members who can manage this channel can change its settings.",
        "zh": "只有拥有“管理频道”权限的成员可以修改本频道的设置。",
    },
    "original_too_large": {
        "en": "📎 The original is {size_mb} MB, over the {limit_mb} MB upload limit here: this is the best JPEG that fits.",
        "zh": "📎 原图有 {size_mb} MB，超过这里 {limit_mb} MB 的上传上限：这是能上传的最佳 JPEG。",
    },
    "settings_unknown": {
        "en": "I don't know the setting “{name}”. You can set: {names}.",
        "zh": "不认识设置项“{name}”。可设置：{names}。",
    },
    "settings_value": {
        "en": "“{value}” isn't a valid {name}. Choose one of: {allowed}.",
        "zh": "“{value}” 不是有效的 {name}。可选：{allowed}。",
    },
    "settings_saved": {
        "en": "✅ Saved. Settings here: {summary}",
        "zh": "✅ 已保存。当前设置：{summary}",
    },
    "help": {
        "en": (
            "🎨 I draw pictures and keep editing them with you.\n\n"
            "• Describe a picture: “a red fox in the snow, watercolour” (in groups: /draw a red fox, or mention me).\n"
            "• Reply to one of my pictures to change it: “make it night”, “add a hat”. Reply to an older one to branch from it.\n"
            "• Send a photo with a caption to restyle it: “as a Ghibli still”. Several photos (an album) with a caption are combined.\n"
            "• Reply to someone's photo and mention me to work on it.\n\n"
            "Buttons under each picture: 🔁 draw again, 🎲 variations, 📎 original file, ↩️ back a step.\n"
            "/new starts over · /settings size, quality, format · /usage spending · /history how a picture was made (reply to it) · /cancel stops a drawing"
        ),
        "zh": (
            "🎨 我会作画，并和你一起不断修改。\n\n"
            "• 描述一幅画：“雪地里的红狐狸，水彩风格”（在群里：/draw 红狐狸，或 @我）。\n"
            "• 回复我的图片即可修改：“改成夜晚”、“加一顶帽子”。回复更早的图片可从那个版本分支。\n"
            "• 发送带说明的照片进行风格转换：“吉卜力风格”。多张照片（相册）加说明会被合成。\n"
            "• 回复别人的照片并 @我，即可处理那张照片。\n\n"
            "每张图片下的按钮：🔁 重画，🎲 变体，📎 原图文件，↩️ 撤销一步。\n"
            "/new 重新开始 · /settings 尺寸、质量、格式 · /usage 花费 · /history 查看图片的创作过程（回复该图片）· /cancel 停止绘制"
        ),
    },
    "help_discord": {
        "en": (
            "🎨 I draw pictures and keep editing them with you.\n\n"
            "• “/imagine prompt: a red fox in the snow, watercolour” draws one; add image1…image4 to restyle or combine your images, size and quality to choose them for this picture.\n"
            "• Mention me with a description (and images) to draw, e.g. “@Redraw a lighthouse at dusk”.\n"
            "• Reply to one of my pictures to change it: “make it night”, “add a hat” (no mention needed). Reply to an older one to branch from it.\n"
            "• Reply to someone's image and mention me to work on it.\n\n"
            "Buttons under each picture: 🔁 draw again, 🎲 variations, 📎 original file, ↩️ back a step.\n"
            "/new starts over · /settings size, quality, format · /usage spending · /history how the latest picture was made (or a message's Apps → Picture history)"
        ),
        "zh": (
            "🎨 我会作画，并和你一起不断修改。\n\n"
            "• “/imagine prompt: 雪地里的红狐狸，水彩风格” 画一幅画；加上 image1…image4 可转换或融合你的图片，size 和 quality 为这张图选择尺寸和质量。\n"
            "• @我 并写上描述（可带图片）即可作画，例如“@Redraw 黄昏的灯塔”。\n"
            "• 回复我的图片即可修改：“改成夜晚”、“加一顶帽子”（无需 @）。回复更早的图片可从那个版本分支。\n"
            "• 回复别人的图片并 @我，即可处理那张图片。\n\n"
            "每张图片下的按钮：🔁 重画，🎲 变体，📎 原图文件，↩️ 撤销一步。\n"
            "/new 重新开始 · /settings 尺寸、质量、格式 · /usage 花费 · /history 查看最新图片的创作过程（或在消息的“应用”菜单中选“图片历史”）"
        ),
    },
    "restarting": {
        "en": "I'm restarting. Try again in a moment.",
        "zh": "我正在重启，请稍后再试。",
    },
    "unknown_command": {
        "en": "I don't know the command /{command}. /help lists what I can do.",
        "zh": "不认识命令 /{command}。发送 /help 查看我能做什么。",
    },
    "unsupported_input": {
        "en": "I can only work with pictures (photos or image files), not {what}. Send a photo, or describe what to draw.",
        "zh": "我只能处理图片（照片或图片文件），无法处理{what}。请发送照片，或描述要画的内容。",
    },
    "unsupported_sticker": {"en": "stickers", "zh": "贴纸"},
    "unsupported_voice": {"en": "voice messages", "zh": "语音消息"},
    "unsupported_video": {"en": "videos", "zh": "视频"},
    "unsupported_audio": {"en": "audio", "zh": "音频"},
    "unsupported_animation": {"en": "GIFs and animations", "zh": "动图"},
    "unsupported_file": {"en": "this kind of file", "zh": "这种文件"},
    "unsupported_other": {"en": "this kind of message", "zh": "这类消息"},
    "images_need_prompt": {
        "en": "Got your picture. What should I do with it? Reply to it with a description, e.g. “make it a watercolour”.",
        "zh": "收到图片了。要怎么处理？请回复这张图片并写上说明，例如“改成水彩画”。",
    },
    "download_too_large": {
        "en": "That file is {size_mb} MB; I can fetch at most {limit_mb} MB from this chat. Send a smaller image.",
        "zh": "该文件有 {size_mb} MB，我最多只能从这里获取 {limit_mb} MB。请发送更小的图片。",
    },
    "download_failed": {
        "en": "I couldn't fetch your picture from the chat. Please send it again.",
        "zh": "无法获取你的图片，请重新发送。",
    },
    "settings_pick": {
        "en": "Settings here: {summary}\nTap to change.",
        "zh": "当前设置：{summary}\n点击即可修改。",
    },
    "settings_unchanged": {
        "en": "Already set.",
        "zh": "已经是这个设置。",
    },
    "setting_backend": {"en": "Backend", "zh": "接口"},
    "setting_size": {"en": "Size", "zh": "尺寸"},
    "setting_quality": {"en": "Quality", "zh": "质量"},
    "setting_format": {"en": "Format", "zh": "格式"},
    "button_regenerate": {"en": "🔁 Regenerate", "zh": "🔁 重画"},
    "button_variations": {"en": "🎲 Variations", "zh": "🎲 变体"},
    "button_original": {"en": "📎 Original", "zh": "📎 原图"},
    "button_undo": {"en": "↩️ Undo", "zh": "↩️ 撤销"},
    "button_cancel": {"en": "✖ Cancel", "zh": "✖ 取消"},
    "button_retry": {"en": "🔄 Retry", "zh": "🔄 重试"},
    "cancelling": {"en": "Cancelling…", "zh": "正在取消…"},
    "shutting_down": {
        "en": "⚠️ The bot is restarting and stopped drawing “{prompt}”. Press Retry once it's back.",
        "zh": "⚠️ 机器人正在重启，已停止绘制“{prompt}”。恢复后点击“重试”即可。",
    },
    # --- the provider --------------------------------------------------------
    "upstream_error": {
        "en": "The image service failed. Please try again.",
        "zh": "图像服务出错了，请重试。",
    },
    "upstream_bad_request": {
        "en": "The image service refused the request: {message}. Change the request and try again.",
        "zh": "图像服务拒绝了请求：{message}。请修改后重试。",
    },
    "upstream_auth": {
        "en": "The bot's API key was rejected by the image service. Please tell the bot's operator.",
        "zh": "图像服务拒绝了机器人的 API 密钥。请联系机器人管理员。",
    },
    "content_blocked": {
        "en": "The image service's safety system blocked this request. Rephrase it and try again.",
        "zh": "该请求被图像服务的安全系统拦截。请换一种说法再试。",
    },
    "rate_limited": {
        "en": "The image service is busy. Try again in about {seconds} seconds.",
        "zh": "图像服务繁忙，请在大约 {seconds} 秒后重试。",
    },
    "insufficient_balance": {
        "en": "The bot's image-service account is out of credit. Please tell the bot's operator.",
        "zh": "机器人的图像服务账户余额不足。请联系机器人管理员。",
    },
    "model_unavailable": {
        "en": "The image model isn't available right now. Try again later, or pick another model in /settings.",
        "zh": "图像模型暂时不可用。请稍后再试，或在 /settings 中换一个模型。",
    },
    "upstream_not_found": {
        "en": "The image service's address is set up wrong: it answered 404 Not Found. Please tell the bot's operator to check OPENAI_BASE_URL.",
        "zh": "图像服务的地址配置有误：它返回了 404 Not Found。请联系机器人管理员检查 OPENAI_BASE_URL。",
    },
    "upstream_unavailable": {
        "en": "The image service is unavailable right now. Please try again in a few minutes.",
        "zh": "图像服务暂时不可用，请几分钟后再试。",
    },
    "upstream_timeout": {
        "en": "The image took too long and was abandoned. Try again, perhaps with a lower quality or size.",
        "zh": "生成时间过长，已放弃。请重试，或降低质量或尺寸。",
    },
    "malformed_response": {
        "en": "The image service sent back a broken result. Please try again.",
        "zh": "图像服务返回了损坏的结果，请重试。",
    },
    "output_too_large": {
        "en": "The image service sent back a picture of {megapixels} megapixels, more than the {limit} I accept, so it was not shown. Please try again.",
        "zh": "图像服务返回了一张 {megapixels} 百万像素的图片，超过了可接受的 {limit} 百万像素，因此未显示。请重试。",
    },
    "link_refused": {
        "en": "The image service answered with a picture link I won't open (not a safe address or not an image). Please try again; if it keeps happening, tell the bot's operator.",
        "zh": "图像服务返回的图片链接不安全或不是图片，已拒绝打开。请重试；如果一直这样，请联系机器人管理员。",
    },
    "link_too_slow": {
        "en": "The picture's download from the image service was too slow and was abandoned. Please try again.",
        "zh": "从图像服务下载图片太慢，已放弃。请重试。",
    },
    "no_image": {
        "en": "The model answered without an image: {message}",
        "zh": "模型没有返回图片，而是回答：{message}",
    },
    "state_expired": {
        "en": "The earlier image could not be found any more. Reply to the image again to continue.",
        "zh": "找不到之前的图片了。请再次回复该图片以继续。",
    },
}

SUPPORTED_LOCALES: tuple[Locale, ...] = ("en", "zh")


def normalize_locale(locale: str | None) -> Locale:
    """Map a platform language tag (``zh-hans``, ``zh_CN``, ``en-US``) to a catalog locale."""
    if not locale:
        return "en"
    primary = locale.replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in SUPPORTED_LOCALES else "en"


def render(key: str, locale: str | None = None, **params: Any) -> str:
    texts = MESSAGES.get(key) or MESSAGES["internal_error"]
    template = texts[normalize_locale(locale)]
    # A missing parameter shows as empty rather than crashing an error path.
    names = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    return template.format(**{name: params.get(name, "") for name in names})


def render_error(error: RedrawError, locale: str | None = None) -> str:
    return render(error.message_key, locale, **error.params)
