"""Word and phrase banks for synthetic posts, comments, names and reports (written for this simulator).

Human text is short, informal, with slang, emoji and a few typos; AI text is longer, formal and glued
together by connectors (首先…其次…总之, Firstly…Moreover…In conclusion). The banks are combined slot by
slot, so a few hundred phrases give millions of distinct texts.
"""

from __future__ import annotations

EMOJI = ("😂", "🤣", "😭", "❤️", "✨", "🔥", "👍", "🙏", "💕", "😍", "🥺", "👀", "🤤", "😋", "🎉", "🌸", "☕️",
         "🍲", "📷", "💪", "🐱", "🥰", "😅", "🤔", "🙌", "😆", "🍰", "🌈", "😴", "🤷")

TOPICS_ZH = ("美食", "穿搭", "旅行", "护肤", "数码", "家居", "健身", "读书", "宠物", "探店", "母婴", "学习",
             "摄影", "彩妆", "咖啡", "露营", "烘焙", "职场", "理财", "追剧", "音乐", "手工", "汽车", "游戏")
TOPICS_EN = ("food", "ootd", "travel", "skincare", "tech", "homedecor", "fitness", "books", "pets", "cafe",
             "parenting", "study", "photography", "makeup", "coffee", "camping", "baking", "career",
             "finance", "kdrama", "music", "diy", "cars", "gaming")

# --- human, Chinese -------------------------------------------------------------------------------------
H_ZH_OPENER = ("今天", "终于", "姐妹们！", "家人们谁懂啊", "救命", "啊啊啊", "周末", "下班后", "刚刚", "昨天",
               "说真的", "不是我吹", "谁能想到", "第一次", "又是", "好久没发了", "记录一下", "碎碎念：", "分享一下",
               "实名推荐", "咱就是说", "破防了", "打工人", "早上", "半夜", "趁着假期", "被朋友安利", "偶然发现")
H_ZH_SCENE = ("去了楼下新开的火锅店", "买的裙子到了", "和闺蜜去爬山", "在家做了红烧肉", "入手了新耳机", "带猫去打疫苗",
              "试了一下这个粉底液", "去看了演唱会", "一个人去看海", "囤了一堆零食", "把房间重新布置了", "熬夜追完了这部剧",
              "去西湖边走了走", "给老妈买了个按摩仪", "换了个新发型", "第一次做蛋糕", "跑了五公里", "逛了一下午宜家",
              "喝到了超好喝的奶茶", "去成都吃了三天", "在再家做饭", "拍了一组照片", "带娃去了动物园", "面试终于过了",
              "剪了个短发", "去了趟菜市场", "买了人生第一台相机", "在公司楼下发现一家咖啡店", "和对象去露营",
              "学会了做手冲", "把阳台改成了小花园", "去看了海棠花", "排队买到了限定款", "周末去了古镇",
              "熬了一锅汤", "考完试了", "搬家了", "试了网上很火的那个方法", "去了家私房菜", "买了个二手相机")
H_ZH_DETAIL = ("排了一个小时队", "价格也还行", "有点小贵", "老板人超好", "环境很出片", "朋友推荐的", "等了好久",
               "颜色比图片好看", "味道有点咸", "包装很可爱", "性价比绝了", "就是人太多了", "下次还来", "踩了个小坑",
               "量超级大", "因该还不错", "的很好吃", "天气也好", "拍照超好看", "服务一般般", "停车不方便",
               "回头客很多", "离地铁站很近", "学生党也能冲", "一不小心就买多了", "跟想象的不太一样")
H_ZH_REACTION = ("真的绝了", "yyds", "绝绝子", "一般般吧", "踩雷了", "有点东西", "爱了爱了", "太香了", "好想再去一次",
                 "无语子", "笑死我了", "我哭死", "救命好好看", "芜湖起飞", "冲就完事了", "不推荐", "还会再买", "真的会谢",
                 "狠狠爱住", "拿捏了", "蚌埠住了", "纯纯的快乐", "在也不去了", "心情超好", "累但快乐", "值了值了",
                 "大家冲", "谁懂", "就这？", "还行吧", "有被治愈到", "快乐加倍")
H_ZH_TAIL = ("！", "！！", "～", "。。。", "", "?", "哈哈哈", "hhh", "嘿嘿", "…", "!!!", "呜呜")
H_ZH_SEP = ("，", "", " ", "！", "～")
H_ZH_TITLE = ("周末碎碎念", "今日份快乐", "宝藏小店", "被问爆的", "踩雷预警", "真实测评", "打工人的午饭", "治愈系日常",
              "姐妹们冲", "新手必看", "这家店我能吃一百次", "小众但好好看", "随手拍", "记录生活", "今天也是元气满满的一天",
              "谁懂啊", "平价好物", "我的宝藏", "一人食", "旅行vlog")
H_ZH_TITLE_PREFIX = ("📍", "✨", "🍲", "", "", "🌸", "☕️", "🔥", "💡")

# --- human, English -----------------------------------------------------------------------------------
H_EN_OPENER = ("omg", "ngl", "ok so", "lol", "honestly", "soooo", "just", "finally", "guys", "tbh", "update:",
               "not gonna lie", "yall", "low key", "idk why but", "pov:", "me:", "quick one:")
H_EN_SCENE = ("tried the new ramen place downtown", "got my new headphones", "went hiking w my bestie",
              "made pancakes this morning", "bought way too many snacks", "finished the whole series in one night",
              "took the cat to the vet", "dyed my hair pink", "went to the beach alone", "found a tiny cafe near work",
              "ran my first 5k", "redid my room", "tried that viral skincare thing", "got a film camera",
              "went thrifting", "baked banana bread", "saw the concert last night", "moved to a new flat",
              "recieved my order", "tried cooking thai food", "went camping this weekend", "passed my driving test")
H_EN_DETAIL = ("waited like an hour", "kinda pricey tho", "staff were super nice", "the light was perfect",
               "a friend told me about it", "took forever to arrive", "way better than the pics", "bit too salty",
               "packaging is so cute", "worth every penny", "so crowded", "definately going back", "small mistake lol",
               "portion was huge", "weather was perfect", "alot cheaper than i thought", "wierd but good")
H_EN_REACTION = ("10/10 would recommend", "not worth it imo", "obsessed", "def going back", "meh", "so good i cried",
                 "literally the best", "never again", "im in love", "mood", "vibes", "cant stop thinking about it",
                 "ur welcome", "no regrets", "still thinking abt it", "kinda mid", "highly recommend tho")
H_EN_TAIL = ("!", "!!", "", ".", "...", " lol", " haha", " tbh", "?!")
H_EN_TITLE = ("weekend dump", "best day ever", "hidden gem", "honest review", "lunch break", "little things",
              "day in my life", "new fav", "dont sleep on this", "pls go", "tiny joys", "photo dump", "mini vlog")

# --- human comments -------------------------------------------------------------------------------------
HC_ZH = ("哈哈哈哈", "好看！", "求链接", "蹲一个", "在哪买的", "绝了", "我也想去", "看饿了", "太可爱了吧", "同款！",
         "真的吗", "学到了", "马住", "好家伙", "羡慕", "冲", "已关注", "么么哒", "笑死", "这个我熟", "啊啊啊啊",
         "姐妹好会拍", "地址有吗", "多少钱呀", "下次带我", "哈哈哈笑不活了", "这也太香了", "我也踩过雷", "支持",
         "好耶", "有点心动", "真的会谢", "楼主好厉害", "收藏了")
HC_ZH_EXTRA = ("", "", "", "哈哈", "！", "～", "！！", "吧", "呀", "。。")
HC_EN = ("lol", "omg where is this", "need this", "so cute", "same!!", "link pls", "haha", "wow", "love this",
         "wait what", "saving this", "u look great", "where did u get it", "this is so me", "ok but why is this so good",
         "yesss", "im jealous", "take me with u", "how much was it", "noted")
HC_EN_EXTRA = ("", "", "", "!", "!!", " lol", " haha", "?")

# --- brand (human-written, promotional) -----------------------------------------------------------------
BRAND_NAME_ZH = ("花间", "小鹿", "柚见", "云朵", "青禾", "木槿", "半糖", "初晴", "星河", "拾光", "山野", "暖阳")
BRAND_NAME_EN = ("Lumi", "Oakly", "Nimbus", "Velvet", "Juniper", "Maple & Co", "Sora", "Kinfolk", "Pebble")
BRAND_ZH_OPENER = ("【新品上市】", "宝子们！", "今日上新～", "限时福利｜", "周末快乐！", "上新啦", "粉丝专属：", "好消息！",
                   "被催了好久的", "门店同款")
BRAND_ZH_PRODUCT = ("春季限定香氛", "轻薄防晒霜", "燕麦拿铁", "亚麻衬衫", "手工香皂", "无线耳机", "真丝睡衣", "保温杯",
                    "桂花乌龙", "露营折叠椅", "玫瑰面膜", "帆布包")
BRAND_ZH_PITCH = ("现在下单享8折", "评论区抽3位宝子送同款", "门店同步有售", "戳主页了解更多", "数量有限先到先得",
                  "老粉回购再减10元", "今晚八点开抢", "包邮到家", "买二送一", "新客立减", "好评返现")
BRAND_ZH_END = ("🎁", "🎉", "❤️", "✨", "～", "！", "冲鸭", "爱你们", "")
BRAND_EN_OPENER = ("New drop alert!", "Hey fam!", "Weekend treat:", "Back in stock:", "Just landed:", "Fan favourite:")
BRAND_EN_PRODUCT = ("our oat latte", "the linen shirt", "the travel mug", "our rose face mask", "the canvas tote",
                    "the camping chair", "our spring candle")
BRAND_EN_PITCH = ("20% off this week", "link in bio", "limited stock, be quick", "free shipping today",
                  "comment to win one", "available in stores too")
BRAND_REPLY_ZH = ("感谢宝子的支持～", "已私信您啦", "爱你哟", "收到反馈，我们会改进的", "欢迎到店体验", "谢谢喜欢！",
                  "宝子可以看看置顶哦", "库存已补上啦")
BRAND_REPLY_EN = ("thank you so much!", "dm us for details", "so glad you like it", "restocking soon!",
                  "thanks for the feedback")

# --- AI: formal, connector-driven ---------------------------------------------------------------------------
AI_ZH_FIRST = ("首先，", "作为一名热爱生活的博主，", "今天想和大家分享一下：", "在当今快节奏的生活中，", "众所周知，")
AI_ZH_MID = ("其次，", "此外，", "另外，", "值得一提的是，", "与此同时，", "不仅如此，", "更重要的是，", "从另一个角度来看，")
AI_ZH_LAST = ("总之，", "综上所述，", "总的来说，", "总而言之，", "希望这篇分享对你有所帮助，")
AI_ZH_SUBJECT = ("这款产品", "这家餐厅", "这次旅行", "该方法", "这套护肤流程", "这本书", "这个健身计划", "这家酒店",
                 "这款耳机", "这道菜", "这次体验", "这个品牌", "这种生活方式", "这家咖啡店", "这条路线", "这份攻略")
AI_ZH_PREDICATE = ("在细节处理上非常用心", "很好地兼顾了品质与性价比", "为用户带来了极佳的体验", "值得每一位热爱生活的人尝试",
                   "充分体现了匠心精神", "在同类产品中脱颖而出", "能够有效提升生活品质", "展现出了极高的专业水准",
                   "给人留下了深刻的印象", "让人感受到满满的幸福感", "具有很高的实用价值", "在设计上独具匠心",
                   "完美契合了现代人的需求", "无疑是一个明智的选择", "提供了全方位的解决方案", "带来了意想不到的惊喜")
AI_ZH_END = ("。", "。", "！")
AI_ZH_TITLE = ("【干货分享】{t}全攻略", "{t}必看的五个小技巧，建议收藏！", "关于{t}，你需要知道的一切", "{t}避坑指南｜建议收藏",
               "一篇文章带你了解{t}", "{t}新手入门完全指南")
AI_EN_FIRST = ("Firstly,", "To begin with,", "As an avid enthusiast,", "In today's fast-paced world,", "First and foremost,")
AI_EN_MID = ("Moreover,", "Furthermore,", "Additionally,", "It is worth noting that", "Notably,", "In addition,",
             "On top of that,")
AI_EN_LAST = ("In conclusion,", "Overall,", "All in all,", "Ultimately,", "To sum up,")
AI_EN_SUBJECT = ("this product", "the restaurant", "this skincare routine", "this book", "the hotel", "this workout plan",
                 "this cafe", "the itinerary", "this approach", "the experience", "this brand", "this recipe")
AI_EN_PREDICATE = ("offers a seamless blend of quality and affordability", "delivers an exceptional experience",
                   "stands out among its competitors", "is a testament to meticulous craftsmanship",
                   "elevates everyday life to a new level", "caters to a wide range of needs",
                   "provides remarkable value for money", "leaves a lasting impression", "is truly a game-changer",
                   "embodies a perfect balance of form and function", "is well worth exploring",
                   "showcases a deep commitment to excellence")
AI_EN_END = (".", ".", "!")
AI_EN_TITLE = ("The Ultimate Guide to {t}", "5 Essential {t} Tips You Need to Know", "Everything You Need to Know About {t}",
               "A Comprehensive Review of {t}", "Unlocking the Secrets of {t}")

# humanized bots stretch the same register over bigger banks and sprinkle an emoji at the end
AI_VARIED_ZH_EXTRA = ("真心推荐给大家", "整体体验非常不错", "让我收获良多", "细节之处见真章", "每一个环节都经过精心设计",
                      "无论是颜值还是实用性都很在线", "可以说是超出预期", "非常适合周末放松", "性价比相当可观",
                      "兼具美观与实用", "值得反复回味", "体现了对生活的热爱")
AI_VARIED_EN_EXTRA = ("I genuinely recommend it", "the overall experience was delightful", "it exceeded my expectations",
                      "every detail feels thoughtfully designed", "it strikes a great balance",
                      "it is perfect for a relaxing weekend", "the value is hard to beat")

# AI comments (humanized bots): polite, generic, complete sentences
AIC_ZH_OPENER = ("感谢分享！", "很有见地的分享，", "非常认同您的观点，", "说得太好了，", "写得非常用心，", "这篇内容很有价值，")
AIC_ZH_MIDDLE = ("内容非常实用", "对{t}的分析很到位", "尤其是关于{t}的部分", "让我对{t}有了新的认识", "条理清晰，逻辑严谨",
                 "干货满满")
AIC_ZH_END = ("，期待更多精彩内容！", "，受益匪浅。", "，已收藏，慢慢学习。", "，希望博主继续分享。", "，为您点赞！")
AIC_EN_OPENER = ("Great insights!", "Thank you for sharing!", "What a thoughtful post!", "Absolutely agree!",
                 "This is incredibly helpful!")
AIC_EN_MIDDLE = ("I particularly appreciate how you highlighted {t}.", "Your perspective on {t} is very valuable.",
                 "The details about {t} are spot on.", "This really deepened my understanding of {t}.")
AIC_EN_END = ("Looking forward to more content like this!", "Keep up the great work!", "Saved for later.", "")

# jittered schedulers: one template per account, slots filled with topic and numbers
TEMPLATE_ZH = (
    ("【", "{t}", "干货】今天给大家分享", "{n}", "个", "{t}", "小技巧，建议收藏！关注我，每天分享更多", "{t}", "好物。"),
    ("每日", "{t}", "推荐第", "{n}", "期：这款单品真的太好用了，链接放在主页啦，需要的宝子自取～"),
    ("#", "{t}", "# 坚持打卡第", "{n}", "天，今天的", "{t}", "心得是：坚持就是胜利！点赞收藏不迷路。"),
    ("今日", "{t}", "好物分享：", "{n}", "元就能拥有的高级感，闭眼入不踩雷！更多", "{t}", "干货请关注。"),
)
TEMPLATE_EN = (
    ("Daily ", "{t}", " tip #", "{n}", ": small changes make a big difference! Follow for more ", "{t}", " content."),
    ("Top ", "{n}", " ", "{t}", " picks of the day. Link in bio! #", "{t}", " #trending"),
    ("Day ", "{n}", " of my ", "{t}", " journey. Consistency is key! Like and save for later."),
)
TEMPLATE_TITLE_ZH = ("每日{t}推荐", "{t}干货合集", "{t}打卡", "{t}好物分享")
TEMPLATE_TITLE_EN = ("Daily {t}", "{t} picks", "{t} journey")
TEMPLATE_COMMENT_ZH = ("感谢分享，关注我获取更多{t}干货～", "写得好！互关一下吧", "已赞，欢迎来我主页看看{t}好物",
                       "好内容，互粉互赞")
TEMPLATE_COMMENT_EN = ("Nice post! Follow me for more {t} tips", "Great content, check out my page!",
                       "Love it! Follow back?")

# engagement farms: promotional posts and a small bank of near-duplicate comments
FARM_POST_ZH = ("好物分享｜", "真实测评：", "回购无数次的", "闭眼入！", "强烈推荐")
FARM_POST_ZH_BODY = ("这款{t}好物真的好用，质量很好，已经推荐给身边的朋友了", "{t}宝藏单品，用过都说好",
                     "第三次回购了，{t}必备", "性价比超高的{t}神器，冲就对了")
FARM_COMMENT_ZH = ("好用！已回购", "质量很好，推荐购买", "宝藏好物，强烈推荐", "已下单，期待", "太好看了吧", "这个真的可以",
                   "支持支持！", "用了一周效果很明显", "物流很快，好评")
FARM_COMMENT_EN = ("Great product!", "Highly recommend!", "Love it, already ordered", "Works perfectly",
                   "Best purchase this year")
FARM_COMMENT_PREFIX = ("", "", "真的", "姐妹们", "哇", "")
FARM_COMMENT_SUFFIX = ("", "！", "!!", "👍", "❤️", "～", "😍", "🔥", "👍👍")

# --- names and bios -------------------------------------------------------------------------------------------
NICK_ZH_PREFIX = ("小", "阿", "是", "爱吃", "不吃", "一只", "今天也要", "momo的", "大", "我是", "会飞的", "想睡觉的", "")
NICK_ZH_CORE = ("鱼", "猫", "桃子", "奶茶", "土豆", "兔兔", "橙子", "阿花", "星星", "可乐", "小熊", "芒果", "布丁",
                "栗子", "糯米", "丸子", "雪梨", "柠檬", "月亮", "青团", "饺子", "汤圆")
NICK_ZH_SUFFIX = ("", "", "呀", "酱", "吖", "_", "🌙", "🍑", "本人")
NICK_EN_CORE = ("lily", "jason", "mia", "kevin", "coco", "ray", "nina", "leo", "ivy", "sam", "yuki", "ben", "zoe",
                "max", "ella", "tim", "amy", "jay")
NICK_EN_SEP = ("", "_", ".", "")
BIO_HUMAN_ZH = ("", "", "热爱生活 热爱自己", "一个普通的打工人", "记录生活的小美好", "吃货一枚", "摄影爱好者",
                "00后 | 在读", "猫奴", "努力变好", "不定期更新", "喜欢旅行和美食", "宝妈一枚", "健身打卡中")
BIO_HUMAN_EN = ("", "", "just vibing", "coffee + books", "dog mom", "trying my best", "uni student", "amateur photographer",
                "food is my love language")
BIO_BRAND_ZH = ("官方账号｜合作请私信", "官方旗舰店｜每周上新", "品牌官方｜售后请私信客服")
BIO_BRAND_EN = ("Official account | DM for collabs", "Official store | new drops weekly")
BIO_BOT_ZH = ("", "专注分享{t}干货｜每日更新", "好物分享", "互关必回", "{t}爱好者")
BIO_BOT_EN = ("", "Daily {t} tips", "Follow for follow", "{t} lover")
BIO_HUMANIZED_ZH = ("热爱生活的{t}爱好者 | 分享日常", "用心记录每一天", "分享{t}与生活的点滴")
BIO_HUMANIZED_EN = ("{t} enthusiast | sharing everyday moments", "Living my best life, one day at a time")

# --- reports ----------------------------------------------------------------------------------------------------
REPORT_ZH = {
    "spam": ("一直在刷广告", "评论区全是广告", "垃圾营销号"),
    "fake_account": ("疑似机器人", "假账号", "这个号不是真人"),
    "ai_generated": ("内容都是AI写的", "AI生成的图片没标注", "全是AI文案"),
    "harassment": ("这个人骂人", "一直私信骚扰我", "恶意攻击"),
    "misinformation": ("内容是假的", "虚假宣传", "造谣"),
    "other": ("", "看着不舒服", "请核实"),
}
REPORT_EN = {
    "spam": ("spam bot", "posting ads everywhere"),
    "fake_account": ("fake account", "this is a bot"),
    "ai_generated": ("ai generated content", "unlabelled ai images"),
    "harassment": ("harassing people", "abusive comments"),
    "misinformation": ("fake info", "misleading claims"),
    "other": ("", "please check"),
}

# --- LLM personas (and the posts creators write with declared AI help): fluent, varied, few connectors ------
LLM_ZH_TITLE = ("关于{t}的一点小心得", "{t}｜我的真实体验分享", "聊聊{t}：那些没人告诉你的细节", "坚持{t}一个月后的变化",
                "{t}新手少走弯路的几个建议", "我的{t}日常，慢慢来也很好", "给想入门{t}的朋友", "这一年{t}教会我的事")
LLM_ZH_OPEN = ("最近一直在琢磨{t}这件事，", "周末花了点时间整理了一下关于{t}的心得，", "和朋友聊到{t}，突然有很多想说的。",
               "作为一个{t}爱好者，", "被问了很多次关于{t}的问题，今天统一回复一下。", "记录一下这段时间在{t}上的一些体会。",
               "说起{t}，我一开始也走了不少弯路。", "今天想认真聊聊{t}。", "不知不觉接触{t}已经快一年了，", "")
LLM_ZH_BODY = ("其实最关键的一点是找到适合自己的节奏，而不是盲目跟风。", "我试过好几种方法，最后发现简单的反而最有效。",
               "如果你也刚开始接触，不妨先从小的改变做起。", "很多细节只有亲自尝试过才会真正明白。",
               "比起追求完美，我更在意能不能长期坚持下去。", "这个过程并不总是轻松的，但每一点进步都让人很有成就感。",
               "有时候慢下来，反而能看到更多以前忽略的东西。", "我把自己踩过的坑整理了一下，希望能帮到有需要的人。",
               "身边的朋友试了之后，反馈也都还不错。", "当然每个人的情况不同，适合我的不一定适合你。",
               "预算有限的话，可以先从基础款开始，不用一步到位。", "真正让我坚持下来的，是每天一点点的小变化。",
               "刚开始的时候我也很迷茫，后来慢慢摸到了一些门道。", "这些经验谈不上专业，只是我自己的真实感受。",
               "最让我意外的是，很多看起来复杂的事情，拆开来其实并不难。", "与其焦虑结果，不如先把眼前的每一步走好。",
               "我现在的习惯是每周复盘一次，看看哪些地方还能调整。", "如果只能给一个建议，那就是别给自己太大压力。")
LLM_ZH_CLOSE = ("你们平时是怎么做的？欢迎在评论区交流～", "希望对你有一点点帮助。", "有问题可以留言，我看到都会回复。",
                "一起加油吧！", "下次再和大家分享更多细节。", "如果觉得有用，记得收藏哦。", "")
LLM_EN_TITLE = ("A few thoughts on {t}", "What I learned about {t} this month", "My honest take on {t}",
                "{t}: small habits that actually helped", "If you are new to {t}, read this", "A slow year of {t}")
LLM_EN_OPEN = ("I've been thinking a lot about {t} lately.", "A few people asked me about {t}, so here goes.",
               "After a month of focusing on {t}, here's where I landed.", "Quick reflection on my {t} journey.",
               "Sharing something I wish I'd known earlier about {t}.", "")
LLM_EN_BODY = ("The biggest shift for me was finding a rhythm that actually fits my life.",
               "I tried a lot of approaches, and the simplest one ended up working best.",
               "If you're just starting out, small consistent steps beat big plans every time.",
               "Some details only make sense once you try them yourself.",
               "Honestly, consistency mattered far more than getting everything perfect.",
               "It wasn't always easy, but the small wins kept me going.",
               "Everyone's situation is different, so take what works and leave the rest.",
               "You don't need the fancy version to begin; the basics are more than enough.",
               "What surprised me most is how manageable it feels once you break it down.",
               "I now check in with myself every week and adjust as I go.")
LLM_EN_CLOSE = ("How do you approach it? I'd love to hear in the comments.", "Hope this helps someone!",
                "Feel free to ask anything, I read every comment.", "More on this soon.", "")
LLMC_ZH_OPEN = ("谢谢你的留言！", "这个问题问得很好，", "很高兴对你有帮助～", "感谢认真看完，", "好问题！", "谢谢支持，",
                "写得真好，", "很有共鸣！", "认真看完了，", "这个角度很有意思，")
LLMC_ZH_BODY = ("我的建议是先从{t}的基础做起，慢慢找到适合自己的方式。", "我一般会先小范围试一试，效果好再坚持下去。",
                "其实不用太纠结，按自己的节奏来就好。", "这一点我也是摸索了很久才明白的。",
                "可以先从最简单的一步开始，别一下子给自己太多任务。", "每个人情况不一样，多尝试几次就会有感觉。",
                "关于{t}，我之后会专门整理一篇更详细的分享。")
LLMC_ZH_END = ("有其他问题随时问我～", "一起加油！", "希望对你有帮助。", "", "😊")
LLMC_EN_OPEN = ("Thanks so much for the comment!", "Great question!", "Glad this was helpful!", "Appreciate you reading!",
                "Love this perspective!", "Such a thoughtful post.")
LLMC_EN_BODY = ("I'd start with the basics of {t} and build from there.", "Try it small first and see how it feels.",
                "Honestly, go at your own pace; there's no rush.", "That took me a while to figure out too.",
                "I'm planning a longer post on {t} soon.")
LLMC_EN_END = ("Let me know how it goes!", "Happy to help anytime.", "", "😊")

# --- loose rings: each campaign pushes one talking point; every member paraphrases it -----------------------
PARAPHRASE_ZH = (
    ("这个真的挺好用的", "用下来确实不错", "亲测好用，不是广告", "用了一段时间，效果可以的", "说实话比我想象中好", "真的有被惊艳到"),
    ("推荐大家试试", "值得入手", "可以冲", "身边朋友都在用", "真心建议试一下", "闭眼入不会错"),
    ("支持一下博主", "博主说得很对", "同意楼主的看法", "这个观点我赞同", "说到心坎里了", "讲得太清楚了"),
    ("价格也很合理", "性价比挺高的", "这个价位很划算了", "不贵，值得", "比其他家便宜不少", "这个价格真的良心"),
    ("已经回购好几次了", "用完又买了一瓶", "第三次下单了", "家里人也让我再买", "一直在用，没换过", "回购无数次"),
)
PARAPHRASE_ZH_OPEN = ("哇", "确实", "嗯嗯", "说真的", "姐妹们", "讲真", "我也觉得")
PARAPHRASE_EN = (
    ("this actually works", "honestly better than expected", "been using it a while, solid", "genuinely good stuff"),
    ("worth a try", "would recommend", "go for it", "everyone I know uses this"),
    ("totally agree with this", "you nailed it", "this is so true", "couldn't have said it better"),
    ("great value too", "price is fair", "pretty affordable for what it is", "cheaper than the others"),
    ("bought it again already", "on my third one", "repurchased twice", "never switching"),
)
PARAPHRASE_EN_OPEN = ("ok", "honestly", "yes", "same", "tbh")
PARAPHRASE_TAIL = ("", "！", "～", "👍", "。", "!!", "🙌", "")

# --- fans: short, emotional, emoji-heavy --------------------------------------------------------------------
FAN_ZH = ("哥哥好帅", "冲冲冲", "啊啊啊啊啊", "第一！", "打卡", "来了来了", "爱你", "永远支持你", "哥哥辛苦了", "太好看了吧",
          "守护最好的哥哥", "前排", "宝贝好可爱", "今天也超爱你", "神颜", "绝美", "哥哥早点休息", "等到了！", "又是心动的一天")
FAN_EN = ("omg", "ily", "king", "first!", "so handsome", "slay", "we love you", "queen", "stan forever", "finally!!")
FAN_EMOJI = ("😍", "❤️", "🔥", "✨", "💕", "🥰", "😭", "💖", "👑")
